#!/usr/bin/env bash
# seek serve's chat page (GET /) in headless Chromium, against the real server and the default
# model. Turn 1 comes from the page's ?q= hook and must stream to an answer (body
# data-state="done", #last-answer non-empty and equal to the bubble's text, the usage line with
# token counts and tokens/s); turn 2 must carry the conversation (its prompt holds turn 1's prompt
# and answer); turn 3, a long one, is stopped with the Stop button, after which the server must
# have cancelled it (/metrics: no running sequence); turn 4 gets a 400 (temperature 9), shown
# inline with data-state="error"; no JavaScript exception is thrown; and the server then stops on
# SIGTERM without a sanitizer report. Leaves a 1000x800 screenshot in the build folder
# ($SEEK_BUILD_DIR, else the folder of the seek given: build/webui.png). Driven through the
# DevTools protocol (standard-library Python: a minimal websocket client) because --dump-dom
# returns before a streamed answer arrives. Skipped without `chromium`. About 5 s (8 s under
# ASan); everything after the model fetch is bounded by 90 s.
# Usage: test_webui.sh path/to/seek
set -u
seek=$1
if ! command -v chromium >/dev/null; then
  echo "test_webui: SKIP (no chromium)"
  exit 0
fi
model=$(./scripts/get-model.sh) || { echo "FAIL: no default model"; exit 1; }
shot_dir=${SEEK_BUILD_DIR:-$(dirname "$seek")}
dir=$(mktemp -d)
server_pid='' chrome_pid=''
cleanup() {
  [ -n "$chrome_pid" ] && kill "$chrome_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

start=$SECONDS
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
timeout 90 "$seek" serve -m "$model" --port "$port" -np 2 -c 2048 >"$dir/server.log" 2>&1 &
server_pid=$!
# up when /health answers 200 (at most 60 s; python3 rather than curl, which CI lacks)
if ! timeout 65 python3 - "$port" "$server_pid" <<'PY'
import os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
for _ in range(600):
    try:
        if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200: sys.exit(0)
    except OSError: pass
    try: os.kill(pid, 0)
    except OSError: sys.exit(1) # the server exited
    time.sleep(0.1)
sys.exit(1)
PY
then
  echo "FAIL: the server did not come up"
  cat "$dir/server.log"
  exit 1
fi

# --remote-debugging-port=0: Chromium picks a free port and writes it to DevToolsActivePort
timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --disable-extensions \
  --user-data-dir="$dir/profile" --remote-debugging-port=0 --window-size=1000,800 \
  "http://127.0.0.1:$port/" >"$dir/chrome.log" 2>&1 &
chrome_pid=$!

timeout $((88 - (SECONDS - start))) python3 - "$dir/profile/DevToolsActivePort" "$port" "$shot_dir/webui.png" <<'PY'
import base64, http.client, json, os, re, socket, struct, sys, time

port_file, server_port, shot = sys.argv[1], int(sys.argv[2]), sys.argv[3]
passed = failed = 0
def check(name, ok, detail=""):
    global passed, failed
    if ok: passed += 1
    else:
        failed += 1
        print(f"FAIL: {name}" + (f" ({detail})" if detail else ""))

class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: masked text frames out, frames in."""
    def __init__(self, host, port, path):
        self.s = socket.create_connection((host, port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            b = self.s.recv(1)
            if not b: raise IOError("websocket handshake: connection closed")
            head += b
        if b" 101 " not in head.split(b"\r\n")[0]: raise IOError("websocket handshake: " + head.decode(errors="replace"))
    def send(self, text):
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536
                               else bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
    def _read(self, n):
        buf = b""
        while len(buf) < n:
            b = self.s.recv(n - len(buf))
            if not b: raise IOError("websocket closed")
            buf += b
        return buf
    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126: n = struct.unpack(">H", self._read(2))[0]
            elif n == 127: n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 8: raise IOError("websocket closed by the browser")
            if op in (0, 1, 2): msg += payload
            if b0 & 0x80 and op in (0, 1, 2): return msg.decode()

class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.exceptions = ws, 0, []
    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("method") == "Runtime.exceptionThrown":
                d = m["params"]["exceptionDetails"]
                self.exceptions.append(d.get("exception", {}).get("description") or d.get("text"))
            if m.get("id") == self.next_id:
                if "error" in m: raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]
    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r: raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")
    def wait(self, expr, seconds):
        end = time.time() + seconds
        while time.time() < end:
            try: v = self.js(expr)
            except RuntimeError: v = None # e.g. no document.body yet while a page loads
            if v: return v
            time.sleep(0.1)
        return None

def server_get(path):
    c = http.client.HTTPConnection("127.0.0.1", server_port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    return r.status, r.getheader("Content-Type", ""), r.read().decode(errors="replace")

# the page as served
st, ctype, html = server_get("/")
check("GET / is 200 text/html", st == 200 and ctype.startswith("text/html"), f"{st} {ctype}")
check("GET / is the chat page", 'id="last-answer"' in html, html[:120])
if failed: sys.exit(1) # the rest would only time out

# the browser's page target
for _ in range(150):
    if os.path.exists(port_file) and open(port_file).read().strip(): break
    time.sleep(0.1)
else:
    sys.exit("FAIL: chromium did not start (no DevToolsActivePort)")
dt_port = int(open(port_file).read().split()[0])
for _ in range(50):
    c = http.client.HTTPConnection("127.0.0.1", dt_port, timeout=10)
    c.request("GET", "/json/list")
    targets = [t for t in json.loads(c.getresponse().read()) if t.get("type") == "page" and str(server_port) in t.get("url", "")]
    if targets: break
    time.sleep(0.1)
else:
    sys.exit("FAIL: chromium shows no tab with the chat page")
m = re.match(r"ws://([^/]+):(\d+)(/.*)", targets[0]["webSocketDebuggerUrl"])
page = Page(WebSocket(m.group(1), int(m.group(2)), m.group(3)))
page.call("Runtime.enable")
page.wait(f'location.port == "{server_port}" && document.readyState == "complete"', 10)

state = 'document.body.dataset.state'
# turn 1: sent by ?q= on load, short and greedy (settings are read from localStorage)
page.js('localStorage.setItem("seek.temperature", "0"); localStorage.setItem("seek.max_tokens", "40")')
t0 = time.time()
page.call("Page.navigate", url=f"http://127.0.0.1:{server_port}/?q=What%20is%202%2B2%3F")
s1 = page.wait(f'["done", "error"].includes({state}) && {state}', 40)
error_text = '[...document.querySelectorAll(".error")].map((e) => e.textContent).join("; ")'
check("turn 1 ends in data-state=done", s1 == "done", f"state {s1}: {page.js(error_text)}")
answer = page.js('document.getElementById("last-answer").textContent')
check("#last-answer is not empty", bool(answer and answer.strip()))
check("the answer is in the assistant bubble", answer and page.js('document.querySelector(".msg.assistant .answer").textContent') == answer)
check("the question is in a user bubble", page.js('document.querySelector(".msg.user").textContent') == "What is 2+2?")
meta1 = page.js('document.querySelector(".msg.assistant .meta").textContent') or ""
u1 = re.search(r"(\d+) prompt \+ (\d+) generated tokens", meta1)
check("the usage line shows token counts and tokens/s", u1 and "tokens/s" in meta1, meta1)
print(f"test_webui: turn 1 in {time.time() - t0:.1f} s: {answer!r} [{meta1}]")

# turn 2: the conversation goes with it
page.js('document.getElementById("input").value = "And 3+3?";'
        'document.getElementById("form").requestSubmit()')
s2 = page.wait(f'document.querySelectorAll(".msg.assistant").length == 2 && ["done", "error"].includes({state}) && {state}', 30)
check("turn 2 ends in data-state=done", s2 == "done", f"state {s2}: {page.js(error_text)}")
meta2 = page.js('document.querySelectorAll(".msg.assistant")[1].querySelector(".meta").textContent') or ""
u2 = re.search(r"(\d+) prompt \+ (\d+) generated tokens", meta2)
check("turn 2's prompt holds turn 1 (question and answer)",
      u1 and u2 and int(u2.group(1)) >= int(u1.group(1)) + int(u1.group(2)), f"{meta1} / {meta2}")

# turn 3: a long answer, stopped once it streams; the server must cancel the sequence
page.js('document.getElementById("maxtok").value = "400";'
        'document.getElementById("input").value = "Write a very long story about a dragon who learns to cook.";'
        'document.getElementById("form").requestSubmit()')
streaming = page.wait(f'{state} == "busy" && document.querySelectorAll(".msg.assistant")[2]?.querySelector(".answer").textContent.length > 40', 20)
check("turn 3 streams (text appears while busy)", bool(streaming))
page.js('document.getElementById("send").click()')
s3 = page.wait(f'["done", "error"].includes({state}) && {state}', 10)
meta3 = page.js('document.querySelectorAll(".msg.assistant")[2]?.querySelector(".meta").textContent') or ""
check("Stop ends turn 3 as stopped", s3 == "done" and "stopped" in meta3, f"state {s3}, meta {meta3!r}: {page.js(error_text)}")
running = None
for _ in range(50):
    running = re.search(r"^seek_running_sequences (\d+)", server_get("/metrics")[2], re.M)
    if running and running.group(1) == "0": break
    time.sleep(0.1)
check("the server cancels the stopped sequence", running and running.group(1) == "0",
      running.group(0) if running else "no seek_running_sequences in /metrics")

# turn 4: a server error (400 for a bad temperature) shown inline, data-state=error
page.js('document.getElementById("temp").value = "9"; document.getElementById("input").value = "Hi";'
        'document.getElementById("form").requestSubmit()')
s4 = page.wait(f'document.querySelectorAll(".msg.assistant").length == 4 && ["done", "error"].includes({state}) && {state}', 10)
err = page.js(error_text)
check("a 400 is shown inline with the server's message", s4 == "error" and "400" in err and "temperature" in err, f"state {s4}: {err!r}")

check("no JavaScript exception", not page.exceptions, "; ".join(map(str, page.exceptions)))
page.call("Emulation.setDeviceMetricsOverride", width=1000, height=800, deviceScaleFactor=1, mobile=False)
png = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
with open(shot, "wb") as f: f.write(png)
check("screenshot", png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000, f"{len(png)} bytes")
print(f"test_webui: screenshot {shot}; {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
rc=$?
# the server stops on SIGTERM (passed on by timeout), without a sanitizer report
kill "$server_pid" 2>/dev/null
for _ in $(seq 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "FAIL: the server did not stop within 15 s of SIGTERM"
  rc=1
elif grep -q 'Sanitizer\|runtime error' "$dir/server.log"; then
  echo "FAIL: sanitizer report from the server"
  rc=1
fi
if [ $rc -ne 0 ]; then
  [ $rc -ge 124 ] && echo "FAIL: timed out"
  echo "--- server log:"; tail -40 "$dir/server.log"
  echo "--- chromium log:"; grep -v 'dbus\|Fontconfig' "$dir/chrome.log" | tail -10
fi
exit $rc
