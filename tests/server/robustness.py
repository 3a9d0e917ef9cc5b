#!/usr/bin/env python3
"""seek serve under bad and hostile clients (standard library only).

Usage: robustness.py --url http://127.0.0.1:PORT --pid SERVER_PID [--slots 4] [--short] [--no-rss]

Checks, one line each ("ok" / "FAIL", exit status 1 on any failure):
- bad requests get the right status and an OpenAI error object: malformed JSON, a non-object,
  an empty body, wrong types, negative / huge / overflowing max_tokens, bad temperature, top_p,
  stop, logit_bias, top_logprobs, unknown role, empty or missing messages, invalid UTF-8,
  10^5-deep nesting, a prompt far over the context, unknown model (404), unknown route (404), a
  10 MB body (413, with Content-Length and chunked);
- 200 connections held open with partial headers or partial bodies do not stop /health or a
  completion;
- clients that disconnect mid-stream (after two chunks) free their slots: with every slot taken
  by a long stream that is then dropped, a new request is answered at once;
- /health answers 200 throughout (polled from a thread every 0.25 s);
- the server is alive at the end; its threads and open files are back to the idle counts; its
  RSS is within 10% + 4 MiB of the idle RSS measured after a warm-up of the same workload.
--short (sanitizer builds): one round, fewer connections, no timing or RSS checks.
"""
import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

ARGS = None
RESULTS = []
HOST = "127.0.0.1"
PORT = 8080


WARMUP = None  # a list while warming up: checks are collected there, not reported


def check(name, ok, detail=""):
    if WARMUP is not None:
        if not ok:
            WARMUP.append(name)
        return bool(ok)
    RESULTS.append((name, bool(ok), detail))
    line = ("ok    " if ok else "FAIL  ") + name
    if detail and not ok:
        line += "\n      " + str(detail).replace("\n", "\n      ")
    elif detail:
        line += "  (" + str(detail) + ")"
    print(line, flush=True)
    return bool(ok)


def request(method, path, body=None, headers=None, timeout=30.0):
    """(status, body bytes); raises on connection errors."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=timeout)
    try:
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                k, _, v = ln.partition(":")
                out[k] = v.strip()
    except OSError:
        return None
    return out


def rss_kib(pid):
    st = proc_status(pid)
    return int(st["VmRSS"].split()[0]) if st and "VmRSS" in st else None


def n_threads(pid):
    st = proc_status(pid)
    return int(st["Threads"]) if st and "Threads" in st else None


def n_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def alive(pid):
    st = proc_status(pid)
    return st is not None and not st.get("State", "").startswith(("Z", "X"))


class HealthPoller(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.n = 0
        self.bad = []  # (seconds since start, what)
        self.worst = 0.0
        self.t0 = time.time()

    def run(self):
        while not self.stop.is_set():
            t = time.time()
            try:
                st, body = request("GET", "/health", timeout=5.0)
                if st != 200:
                    self.bad.append((t - self.t0, "%d %r" % (st, body[:100])))
            except Exception as e:  # noqa: BLE001
                self.bad.append((t - self.t0, "%s: %s" % (type(e).__name__, e)))
            self.worst = max(self.worst, time.time() - t)
            self.n += 1
            self.stop.wait(0.25)


# ----------------------------------------------------------------------------------------------
def model_id():
    st, body = request("GET", "/v1/models")
    try:
        return json.loads(body)["data"][0]["id"]
    except (ValueError, KeyError, IndexError, TypeError):
        return "default"


def bad_cases(model):
    """(name, method, path, body bytes, expected statuses)."""
    chat, comp = "/v1/chat/completions", "/v1/completions"
    msgs = [{"role": "user", "content": "Hi"}]

    def j(**kw):
        d = {"model": model, "messages": msgs, "max_tokens": 4}
        d.update(kw)
        return json.dumps({k: v for k, v in d.items() if v is not DROP}).encode()

    def jc(**kw):
        d = {"model": model, "prompt": "Hi", "max_tokens": 4}
        d.update(kw)
        return json.dumps({k: v for k, v in d.items() if v is not DROP}).encode()

    return [
        ("malformed JSON", "POST", chat, b'{"messages": [{"role": "user", "content": "Hi"', {400}),
        ("trailing garbage", "POST", chat, j() + b" xyz", {400}),
        ("JSON array, not an object", "POST", chat, b"[1, 2, 3]", {400}),
        ("empty body", "POST", chat, b"", {400}),
        ("NaN literal", "POST", chat, j()[:-1] + b', "temperature": NaN}', {400}),
        ("messages a string", "POST", chat, j(messages="Hi"), {400}),
        ("messages [1]", "POST", chat, j(messages=[1]), {400}),
        ("content a number", "POST", chat, j(messages=[{"role": "user", "content": 5}]), {400}),
        ("content part without text", "POST", chat, j(messages=[{"role": "user", "content": [{"type": "text"}]}]), {400}),
        ("message without role", "POST", chat, j(messages=[{"content": "Hi"}]), {400}),
        ("unknown role", "POST", chat, j(messages=[{"role": "wizard", "content": "Hi"}]), {400}),
        ("empty messages", "POST", chat, j(messages=[]), {400}),
        ("missing messages", "POST", chat, j(messages=DROP), {400}),
        ("max_tokens a string", "POST", chat, j(max_tokens="ten"), {400}),
        ("max_tokens -5", "POST", chat, j(max_tokens=-5), {400}),
        ("max_tokens 1e12 (over the context)", "POST", chat, j(max_tokens=10**12), {400}),
        ("max_tokens 2^70 (overflows int64)", "POST", chat, j()[:-1] + b', "max_tokens": 1180591620717411303424}', {400}),
        ("max_tokens 3.5", "POST", chat, j(max_tokens=3.5), {400}),
        ("temperature 'hot'", "POST", chat, j(temperature="hot"), {400}),
        ("temperature -1", "POST", chat, j(temperature=-1), {400}),
        ("top_p 7", "POST", chat, j(top_p=7), {400}),
        ("stop a number", "POST", chat, j(stop=5), {400}),
        ("stop with 10 strings", "POST", chat, j(stop=["s%d" % i for i in range(10)]), {400}),
        ("logit_bias key not a token id", "POST", chat, j(logit_bias={"abc": 5}), {400}),
        ("logit_bias token id out of range", "POST", chat, j(logit_bias={"99999999": 5}), {400}),
        ("top_logprobs 50", "POST", chat, j(logprobs=True, top_logprobs=50), {400}),
        ("response_format type 'xml'", "POST", chat, j(response_format={"type": "xml"}), {400}),
        ("stream a string", "POST", chat, j(stream="yes"), {400}),
        ("invalid UTF-8 in content", "POST", chat,
         b'{"messages": [{"role": "user", "content": "caf\xc3 \xff\xfe"}], "max_tokens": 4}', {400}),
        ("invalid UTF-8 in prompt", "POST", comp, b'{"prompt": "abc\xff\xfedef", "max_tokens": 4}', {400}),
        ("lone surrogate escape", "POST", comp, b'{"prompt": "abc\\ud800def", "max_tokens": 4}', {400}),
        ("NUL escape in prompt", "POST", comp, b'{"prompt": "abc\\u0000def", "max_tokens": 4}', {200, 400}),
        ("10^5-deep nesting", "POST", chat, b"[" * 100000 + b"]" * 100000, {400}),
        ("prompt far over the context (20000 messages)", "POST", chat,
         j(messages=[{"role": "user", "content": "hello there"}] * 20000), {400}),
        ("prompt a number", "POST", comp, jc(prompt=42), {400}),
        ("missing prompt", "POST", comp, jc(prompt=DROP), {400}),
        ("unknown model", "POST", chat, j(model="no-such-model"), {404}),
        ("unknown route", "POST", "/v1/nothing", j(), {404}),
        ("GET on a POST route", "GET", chat, None, {404, 405}),
        ("path traversal", "GET", "/../../etc/passwd", None, {400, 404}),
    ]


DROP = object()


def run_bad_cases(cases, rounds):
    """Each case `rounds` times; one check per case (failed if any round failed)."""
    bad = {}
    for r in range(rounds):
        for name, method, path, body, want in cases:
            try:
                st, resp = request(method, path, body=body, timeout=20)
            except Exception as e:  # noqa: BLE001
                bad.setdefault(name, "round %d: %s: %s" % (r + 1, type(e).__name__, e))
                continue
            ok = st in want
            if ok and st >= 400:
                try:
                    err = json.loads(resp)["error"]
                    ok = isinstance(err.get("message"), str) and len(err["message"]) > 0
                except (ValueError, KeyError, TypeError, AttributeError):
                    ok = False
            if not ok:
                bad.setdefault(name, "round %d: got %d %r" % (r + 1, st, resp[:300]))
    for name, method, path, body, want in cases:
        check("%s -> %s" % (name, "/".join(map(str, sorted(want)))), name not in bad, bad.get(name, ""))


def big_body(chunked, size=10 * 1024 * 1024):
    """Sends a ~10 MB JSON body while reading the answer (a server may answer 413 before it has
    read it all and close). Returns (status or None, first bytes of the answer, error)."""
    s = socket.create_connection((HOST, PORT), timeout=30)
    filler = b"a" * (size - 100)
    body = b'{"prompt": "' + filler + b'", "max_tokens": 1}'
    if chunked:
        head = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    else:
        head = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    send_err = []

    def sender():
        try:
            s.sendall(head)
            if chunked:
                for i in range(0, len(body), 65536):
                    part = body[i:i + 65536]
                    s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
                s.sendall(b"0\r\n\r\n")
            else:
                for i in range(0, len(body), 65536):
                    s.sendall(body[i:i + 65536])
        except OSError as e:
            send_err.append(e)

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    data = b""
    err = None
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        err = e
    th.join(timeout=30)
    s.close()
    st = None
    if data.startswith(b"HTTP/1."):
        try:
            st = int(data.split(b" ", 2)[1])
        except (ValueError, IndexError):
            pass
    return st, data[:200], err or (send_err[0] if send_err and st is None else None)


def stream_and_drop(path, body, n_chunks=2, timeout=60):
    """Starts a streamed request, reads n_chunks SSE events, closes the socket. Returns the number
    of events read."""
    raw = json.dumps(body).encode()
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
              % (path.encode(), len(raw)) + raw)
    buf = b""
    got = 0
    try:
        while got < n_chunks:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
            got = buf.count(b"data: ")
    finally:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        except OSError:
            pass
        s.close()
    return got


def completion(model, max_tokens=8, timeout=60, prompt="Say something nice."):
    st, body = request("POST", "/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0},
        timeout=timeout)
    return st, body


def workload(model, rounds, n_hold, n_drop, cases, timed):
    """Everything but the RSS bookkeeping: used once as the warm-up, then for real."""
    t = time.time()
    run_bad_cases(cases, rounds)
    phase("%d bad requests x %d" % (len(cases), rounds), t)

    t = time.time()
    for chunked in (False, True):
        name = "10 MB body%s -> 413" % (" (chunked)" if chunked else "")
        try:
            st, head, err = big_body(chunked)
            check(name, st == 413, "status %r head %r err %r" % (st, head, err))
        except OSError as e:
            check(name, False, "%s: %s" % (type(e).__name__, e))

    phase("10 MB bodies", t)
    # connections held open with partial requests
    t_hold = time.time()
    socks, refused = [], []
    for i in range(n_hold):
        try:
            s = socket.create_connection((HOST, PORT), timeout=10)
            if i % 2 == 0:
                s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
            else:
                s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100\r\n\r\n{\"messages\": [")
            socks.append(s)
        except OSError as e:
            refused.append(str(e))
    check("%d partial connections accepted" % n_hold, not refused, "%d failed: %s" % (len(refused), refused[:3]))
    time.sleep(0.5)
    t = time.time()
    try:
        st, _ = request("GET", "/health", timeout=10)
        check("with %d partial connections: /health 200" % n_hold, st == 200, "status %d" % st)
        st, body = completion(model, timeout=ARGS.slow_timeout)
        check("with %d partial connections: a completion is answered" % n_hold, st == 200,
              "status %d %r (%.1f s)" % (st, body[:200], time.time() - t))
    except Exception as e:  # noqa: BLE001
        check("with %d partial connections: the server answers" % n_hold, False, "%s: %s" % (type(e).__name__, e))
    for s in socks:
        s.close()
    phase("%d partial connections" % n_hold, t_hold)
    t_drop = time.time()

    # clients that disconnect mid-stream
    drops = []
    for i in range(n_drop):
        if i % 2 == 0:
            body = {"model": model, "messages": [{"role": "user", "content": "Tell me a long story number %d." % i}],
                    "max_tokens": 200, "stream": True, "temperature": 0.7}
            drops.append(stream_and_drop("/v1/chat/completions", body))
        else:
            body = {"model": model, "prompt": "Once upon a time, story %d:" % i, "max_tokens": 200, "stream": True}
            drops.append(stream_and_drop("/v1/completions", body))
    check("%d streams dropped after two chunks" % n_drop, all(d >= 2 for d in drops), "events read: %r" % drops)
    # a non-streamed request abandoned before its answer
    try:
        s = socket.create_connection((HOST, PORT), timeout=10)
        raw = json.dumps({"model": model, "prompt": "Abandoned:", "max_tokens": 100}).encode()
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(raw) + raw)
        time.sleep(0.2)
        s.close()
    except OSError:
        pass

    if timed:
        # every slot busy with a long stream, all dropped: the slots must be freed, so a new
        # request is answered quickly (without cancelling it waits until the streams finish).
        slots = ARGS.slots
        budget = max(64, min(900, (ARGS.n_ctx - 64 * slots) // slots))
        ths = []
        for i in range(slots):
            body = {"model": model, "prompt": "A long essay about rivers, part %d:" % i, "max_tokens": budget,
                    "stream": True, "temperature": 0.8, "seed": i}
            th = threading.Thread(target=stream_and_drop, args=("/v1/completions", body), daemon=True)
            th.start()
            ths.append(th)
        for th in ths:
            th.join(timeout=60)
        time.sleep(0.3)
        t = time.time()
        st, body = completion(model, max_tokens=4, timeout=30)
        dt = time.time() - t
        check("after %d long streams (max_tokens %d) were dropped: a new request is answered in < 5 s" % (slots, budget),
              st == 200 and dt < 5.0, "status %d in %.1f s" % (st, dt))
    st, body = completion(model, timeout=ARGS.slow_timeout)
    check("after the disconnects: a completion succeeds", st == 200, "status %d %r" % (st, body[:200]))
    phase("disconnects", t_drop)


WORDS = ("river stone lantern orchard copper meadow thunder violet harbor candle whisper glacier saddle ember falcon "
         "quartz willow anchor basalt cinder dune fable garnet hollow ivory juniper kettle lattice marble nectar oyster "
         "pepper quiver rafter sable tundra umber velvet walnut yarrow zephyr acorn bramble cobalt drift elm fern").split()


def fill_kv(model, salt=0):
    """Touches every KV position once: a paged KV cache is allocated lazily or hands out unused
    blocks before evicting cached ones, so RSS grows until all of it has been used. Without this,
    the RSS check would measure that growth instead of leaks. Prompts with (n_ctx / slots - 32)
    tokens, slots + 1 of them, distinct."""
    per = ARGS.n_ctx // ARGS.slots - 32
    st, body = request("POST", "/tokenize", {"content": " ".join(WORDS)})
    per_word = len(json.loads(body)["tokens"]) / len(WORDS) if st == 200 else 1.5
    n_words = int(per / per_word * 0.95)

    def one(i):
        x = 12345 + i * 7919 + salt * 104729
        words = []
        for _ in range(n_words):
            x = (x * 1103515245 + 12345) % 2**31
            words.append(WORDS[x % len(WORDS)])
        request("POST", "/v1/completions", {"model": model, "prompt": " ".join(words), "max_tokens": 4, "temperature": 0},
                timeout=300)

    ths = [threading.Thread(target=one, args=(i,)) for i in range(ARGS.slots + 1)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()


def phase(name, t):
    if ARGS.verbose and WARMUP is None:
        print("      [%s: %.1f s, server RSS %s KiB]" % (name, time.time() - t, rss_kib(ARGS.pid)), flush=True)


def wait_settled(pid, idle_threads, idle_fds, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if (n_threads(pid) or 0) <= idle_threads + 2 and (n_fds(pid) or 0) <= idle_fds + 2:
            return
        time.sleep(0.25)


def main():
    global ARGS, HOST, PORT, WARMUP
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="http://HOST:PORT (no /v1)")
    ap.add_argument("--pid", type=int, required=True, help="the server's process id")
    ap.add_argument("--slots", type=int, default=4, help="the server's -np")
    ap.add_argument("--n-ctx", type=int, default=4096, help="the server's -c (KV positions of all slots together)")
    ap.add_argument("--short", action="store_true", help="sanitizer build: one round, fewer connections, no RSS/timing")
    ap.add_argument("--no-rss", action="store_true", help="skip the RSS check")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each phase's time")
    ARGS = ap.parse_args()
    u = urllib.parse.urlparse(ARGS.url)
    HOST, PORT = u.hostname, u.port or 80
    t0 = time.time()
    pid = ARGS.pid
    if not alive(pid):
        check("server process %d alive at the start" % pid, False)
        return 1

    model = model_id()
    cases = bad_cases(model)
    n_hold, n_drop, rounds = (50, 4, 1) if ARGS.short else (200, 8, 3)
    ARGS.slow_timeout = 120 if ARGS.short else 30

    poller = HealthPoller()
    poller.start()
    # warm-up: the same kinds of requests once, quietly, so that buffers, KV pages, threads and
    # malloc arenas that a normal server keeps are in the idle RSS
    WARMUP = warm_fail = []
    try:
        if not (ARGS.short or ARGS.no_rss):
            t = time.time()
            fill_kv(model)
            print("      KV cache filled once (%.1f s)" % (time.time() - t), flush=True)
        # twice: a few large requests (20000 messages, 10 MB bodies) leave the allocator's heaps
        # larger the first times (fragmentation, per-thread arenas), which is not a leak
        for _ in range(1 if ARGS.short else 2):
            workload(model, rounds, n_hold, n_drop, cases if not ARGS.short else [], timed=False)
        with_threads = [threading.Thread(target=completion, args=(model, 48)) for _ in range(ARGS.slots)]
        for th in with_threads:
            th.start()
        for th in with_threads:
            th.join()
    finally:
        WARMUP = None
    time.sleep(1.0)
    idle_threads, idle_fds = n_threads(pid), n_fds(pid)
    wait_settled(pid, idle_threads or 0, idle_fds or 0, 3)
    idle_threads, idle_fds, idle_rss = n_threads(pid), n_fds(pid), rss_kib(pid)
    print("      idle after warm-up: RSS %s KiB, %s threads, %s fds (warm-up %.1f s)" % (
        idle_rss, idle_threads, idle_fds, time.time() - t0), flush=True)

    workload(model, rounds, n_hold, n_drop, cases, timed=not ARGS.short)

    poller.stop.set()
    poller.join(timeout=10)
    check("/health 200 throughout (%d polls, slowest %.2f s)" % (poller.n, poller.worst), not poller.bad and poller.n > 0,
          "%d bad polls: %s" % (len(poller.bad), "; ".join("t=%.1fs %s" % b for b in poller.bad[:5])))
    check("server process alive at the end", alive(pid), repr((proc_status(pid) or {}).get("State")))
    wait_settled(pid, idle_threads or 0, idle_fds or 0, 5)
    th, fd = n_threads(pid), n_fds(pid)
    check("threads back to idle (%s vs %s)" % (th, idle_threads), th is not None and idle_threads is not None
          and th <= idle_threads + 2, "%s threads now, %s idle" % (th, idle_threads))
    check("open files back to idle (%s vs %s)" % (fd, idle_fds), fd is not None and idle_fds is not None and fd <= idle_fds + 2,
          "%s fds now, %s idle" % (fd, idle_fds))
    if not (ARGS.short or ARGS.no_rss):
        time.sleep(0.5)
        rss = rss_kib(pid)
        limit = idle_rss * 1.10 + 4096 if idle_rss else 0
        check("RSS %.1f MiB within 10%% + 4 MiB of idle %.1f MiB" % ((rss or 0) / 1024, (idle_rss or 0) / 1024),
              rss is not None and idle_rss is not None and rss <= limit, "RSS %s KiB, idle %s KiB, limit %.0f KiB"
              % (rss, idle_rss, limit))
    if warm_fail:
        print("      (warm-up had %d failing checks; they are repeated above)" % len(warm_fail))
    failed = [r for r in RESULTS if not r[1]]
    print("robustness: %d passed, %d failed (%.0f s)" % (len(RESULTS) - len(failed), len(failed), time.time() - t0))
    if failed:
        print("failed: " + "; ".join(r[0] for r in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
