#!/usr/bin/env python3
"""Load test of `seek serve` against llama.cpp's `llama-server` on the same GGUF, same slots.

Starts both servers itself (seek from --seek, llama-server from --llama-bin DIR or
$LLAMA_CPP_BIN; this repository neither builds nor contains llama.cpp), each with -np 16, the
same total context (llama-server splits -c across its slots, seek shares -c among them: both get
-c 16*1024 by default) and -t 2. Then, for each concurrency level (1, 4, 16), both servers in
turn get the same fixed prompt set: 64 slices of varied length of tinyshakespeare.txt through
/v1/completions, max_tokens 64-128, temperature 0, streamed (for the time to first token), with
stream_options.include_usage (output tokens from usage). Each level uses other slices of the
text, so no level is helped by the prefix cache of an earlier one.

Prints per server and level: aggregate output tokens/s (and prompt + output tokens/s), TTFT p50/p99, mean time per output token
(TPOT = (latency - TTFT) / (tokens - 1), as `vllm bench serve`), errors; then seek / llama-server
at each level and seek's c16 / c1 throughput ratio. The client is a small stdlib asyncio HTTP/1.1
client (no openai / aiohttp), so it takes little CPU from the servers.

  python3 bench/serve_load.py [--model M.gguf] [--seek build/seek] [--llama-bin DIR]
                              [--levels 1,4,16] [--prompts 64] [--only seek|llama] [--json out.json]
  python3 bench/serve_load.py --prefix      # prefix-cache reuse: TTFT cold vs warm
  # against servers already running:
  python3 bench/serve_load.py --seek-url http://127.0.0.1:8080 --llama-url http://127.0.0.1:8081
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def default_model():
    try:
        return subprocess.run([os.path.join(ROOT, "scripts", "get-model.sh")], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit("no --model and scripts/get-model.sh failed: %s" % e)


def default_text():
    for p in (os.environ.get("SEEK_BENCH_TEXT", ""), os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt"),
              "/work/shared/data/tinyshakespeare.txt"):
        if p and os.path.isfile(p):
            return p
    return None


def build_prompts(text, n, level_index, short=False):
    """n prompts of varied length (about 40 to 600 tokens; with short, 25 to 75), at offsets that
    depend on the level."""
    out = []
    L = len(text)
    for i in range(n):
        chars = 100 + (i * 97) % 200 if short else 160 + (i * 397) % 2300  # 100..300 or 160..2460 characters
        start = ((i + 1) * 7919 + level_index * 104729 * 3 + i * level_index * 613) % max(1, L - chars - 1)
        nl = text.find("\n", start)
        if 0 <= nl < start + 200:
            start = nl + 1
        out.append((text[start:start + chars], 64 + (i * 37) % 65))  # max_tokens 64 .. 128
    return out


class Server:
    def __init__(self, name, url, proc=None, log=None):
        self.name, self.url, self.proc, self.log = name, url.rstrip("/"), proc, log
        u = urllib.parse.urlparse(self.url)
        self.host, self.port = u.hostname, u.port or 80
        self.model = None

    def wait_ready(self, limit):
        t0 = time.time()
        while time.time() - t0 < limit:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s; log: %s" % (self.name, self.proc.returncode, self.log))
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        else:
            raise RuntimeError("%s not ready after %.0f s; log: %s" % (self.name, limit, self.log))
        with urllib.request.urlopen(self.url + "/v1/models", timeout=10) as r:
            self.model = json.load(r)["data"][0]["id"]
        return time.time() - t0

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(name, argv, port, logdir):
    log = os.path.join(logdir, "%s.log" % name)
    f = open(log, "w")
    print("starting %s: %s" % (name, " ".join(argv)), flush=True)
    proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return Server(name, "http://127.0.0.1:%d" % port, proc, log)


# ----------------------------------------------------------------------------------------------
async def one_request(srv, prompt, max_tokens, messages=None):
    """Streams one completion (/v1/completions with prompt, or /v1/chat/completions with
    messages). Returns dict(ok, ttft, latency, tokens, prompt_tokens, cached, text, error)."""
    req = {"model": srv.model, "max_tokens": max_tokens, "temperature": 0, "stream": True,
           "stream_options": {"include_usage": True}}
    if messages is None:
        req["prompt"], path = prompt, b"/v1/completions"
    else:
        req["messages"], path = messages, b"/v1/chat/completions"
    body = json.dumps(req).encode()
    t0 = time.perf_counter()
    res = {"ok": False, "ttft": None, "latency": None, "tokens": 0, "prompt_tokens": 0, "cached": None, "text": "",
           "error": None}
    try:
        reader, writer = await asyncio.open_connection(srv.host, srv.port)
    except OSError as e:
        res["error"] = "connect: %s" % e
        return res
    try:
        writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     b"Accept: text/event-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                     % (path, srv.host.encode(), len(body)) + body)
        await writer.drain()
        status_line = await reader.readline()
        parts = status_line.split(b" ", 2)
        status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
        headers = {}
        while True:
            ln = await reader.readline()
            if ln in (b"\r\n", b"\n", b""):
                break
            k, _, v = ln.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip().lower()
        if status != 200:
            rest = await reader.read(2000)
            res["error"] = "HTTP %d %r" % (status, rest[:200])
            return res
        chunked = "chunked" in headers.get("transfer-encoding", "")
        n_events = 0
        usage_tokens = None
        buf = b""

        async def body_pieces():
            if chunked:
                while True:
                    size_ln = await reader.readline()
                    if not size_ln:
                        return
                    size = int(size_ln.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        return
                    data = await reader.readexactly(size)
                    await reader.readline()
                    yield data
            else:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        return
                    yield data

        done = False
        async for piece in body_pieces():
            buf += piece
            while b"\n" in buf:
                ln, buf = buf.split(b"\n", 1)
                ln = ln.strip()
                if not ln.startswith(b"data:"):
                    continue
                payload = ln[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    break
                ev = json.loads(payload)
                ch = ev.get("choices") or []
                if ch:
                    c = ch[0]
                    text = c.get("text")
                    if text is None:
                        text = (c.get("delta") or {}).get("content")
                    if text:
                        res["text"] += text
                        n_events += 1
                        if res["ttft"] is None:
                            res["ttft"] = time.perf_counter() - t0
                u = ev.get("usage")
                if u and u.get("completion_tokens") is not None:
                    usage_tokens = u["completion_tokens"]
                    res["prompt_tokens"] = u.get("prompt_tokens") or 0
                    res["cached"] = (u.get("prompt_tokens_details") or {}).get("cached_tokens")
            if done:
                break
        res["latency"] = time.perf_counter() - t0
        res["tokens"] = usage_tokens if usage_tokens is not None else n_events
        res["ok"] = done and res["ttft"] is not None
        if not res["ok"]:
            res["error"] = "stream ended without [DONE] or text"
        return res
    except (OSError, ValueError, asyncio.IncompleteReadError) as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
        return res
    finally:
        writer.close()


async def run_level(srv, prompts, conc):
    sem = asyncio.Semaphore(conc)

    async def guarded(p, mt):
        async with sem:
            return await one_request(srv, p, mt)

    t0 = time.perf_counter()
    results = await asyncio.gather(*(guarded(p, mt) for p, mt in prompts))
    wall = time.perf_counter() - t0
    ok = [r for r in results if r["ok"]]
    toks = sum(r["tokens"] for r in ok)
    ptoks = sum(r["prompt_tokens"] for r in ok)
    ttft = sorted(r["ttft"] for r in ok)
    tpot = [(r["latency"] - r["ttft"]) / (r["tokens"] - 1) for r in ok if r["tokens"] > 1]

    def pct(xs, q):
        if not xs:
            return float("nan")
        k = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
        return xs[k]

    return {"server": srv.name, "concurrency": conc, "requests": len(results), "errors": len(results) - len(ok),
            "first_error": next((r["error"] for r in results if not r["ok"]), None), "wall_s": wall,
            "output_tokens": toks, "prompt_tokens": ptoks, "tok_s": toks / wall if wall > 0 else 0.0,
            "total_tok_s": (toks + ptoks) / wall if wall > 0 else 0.0, "ttft_p50_ms": pct(ttft, 0.5) * 1000,
            "ttft_p99_ms": pct(ttft, 0.99) * 1000, "tpot_ms": statistics.mean(tpot) * 1000 if tpot else float("nan")}


def prefix_reuse(srv, text, sys_chars):
    """Issue 5's prefix-reuse case, chat requests one at a time, TTFT of each:
    a) a system prompt of sys_chars characters of text (about 1,000 tokens at 4,000) with a
       question (cold), then the same system prompt with another question (warm);
    b) a two-turn conversation under another system prompt: turn 2 (history + a new question)
       against the same turn-2 messages under a third, never-sent system prompt (cold).
    Returns rows (case, prompt tokens, cached tokens, TTFT ms, TTFT / cold TTFT)."""
    L = len(text)

    def system(i):
        a = (i * 911_111 + 12_345) % max(1, L - sys_chars - 1)
        return "You are a helpful assistant. Use this play as context:\n" + text[a:a + sys_chars]

    def ask(messages):
        r = asyncio.run(one_request(srv, None, 24, messages))
        if not r["ok"]:
            raise RuntimeError("%s: %s" % (srv.name, r["error"]))
        return r

    q1, q2, q3 = "Who speaks first here?", "Name one place mentioned.", "And who answers them?"
    rows = []
    cold = ask([{"role": "system", "content": system(1)}, {"role": "user", "content": q1}])
    warm = ask([{"role": "system", "content": system(1)}, {"role": "user", "content": q2}])
    rows.append(("system prompt, cold", cold, cold["ttft"]))
    rows.append(("system prompt, warm", warm, cold["ttft"]))
    t1 = ask([{"role": "system", "content": system(2)}, {"role": "user", "content": q1}])
    turn2 = [{"role": "user", "content": q1}, {"role": "assistant", "content": t1["text"]}, {"role": "user", "content": q3}]
    cold2 = ask([{"role": "system", "content": system(3)}] + turn2)
    warm2 = ask([{"role": "system", "content": system(2)}] + turn2)
    rows.append(("turn 2, cold", cold2, cold2["ttft"]))
    rows.append(("turn 2, after turn 1", warm2, cold2["ttft"]))
    return [(name, r["prompt_tokens"], r["cached"], r["ttft"] * 1000, r["ttft"] / ref) for name, r, ref in rows]


def fmt_row(r):
    return "%-13s %4d %9.1f %9.1f %10.0f %10.0f %9.1f %6d %6d %8.1f %s" % (
        r["server"], r["concurrency"], r["tok_s"], r["total_tok_s"], r["ttft_p50_ms"], r["ttft_p99_ms"], r["tpot_ms"],
        r["prompt_tokens"], r["output_tokens"], r["wall_s"], ("%d errors: %s" % (r["errors"], r["first_error"])) if r["errors"] else "")


def main():
    ap = argparse.ArgumentParser(description="seek serve vs llama-server under concurrent load",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--model", help="GGUF file (default: scripts/get-model.sh)")
    ap.add_argument("--seek", default=os.path.join(ROOT, "build", "seek"), help="seek binary")
    ap.add_argument("--llama-bin", default=os.environ.get("LLAMA_CPP_BIN"), help="folder with llama-server")
    ap.add_argument("--seek-url", help="use a running seek server instead of starting one")
    ap.add_argument("--llama-url", help="use a running llama-server instead of starting one")
    ap.add_argument("--only", choices=("seek", "llama"), help="run one server only")
    ap.add_argument("--levels", default="1,4,16", help="concurrency levels")
    ap.add_argument("--prompts", type=int, default=64, help="requests per level")
    ap.add_argument("--short-prompts", action="store_true", help="25-75 token prompts (decode-bound)")
    ap.add_argument("--np", type=int, help="slots of both servers (default 16; 4 with --prefix, since llama-server "
                                           "splits -c across its slots and the prefix prompts need ~1,400 positions)")
    ap.add_argument("--ctx", type=int, default=16 * 1024, help="total context of both servers")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--text", default=default_text(), help="prompt source (tinyshakespeare.txt)")
    ap.add_argument("--ready-timeout", type=float, default=120.0)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--prefix", action="store_true",
                    help="instead of the load levels: time to first token of a ~1,000-token system prompt and of a "
                         "second chat turn, cold and with the prefix cache (issue 5's target: warm <= 25%% of cold)")
    ap.add_argument("--prefix-chars", type=int, default=4000, help="system prompt length for --prefix")
    args = ap.parse_args()
    if args.np is None:
        args.np = 4 if args.prefix else 16

    if not args.text or not os.path.isfile(args.text):
        sys.exit("no prompt text: pass --text FILE (tinyshakespeare.txt) or set SEEK_BENCH_TEXT")
    with open(args.text, encoding="utf-8", errors="replace") as f:
        text = f.read()
    levels = [int(x) for x in args.levels.split(",") if x]
    want = ["seek", "llama"] if not args.only else [args.only]
    logdir = os.path.join(ROOT, "build", "serve_load")
    os.makedirs(logdir, exist_ok=True)
    servers = []
    try:
        if "seek" in want:
            if args.seek_url:
                servers.append(Server("seek", args.seek_url))
            else:
                model = args.model or default_model()
                port = free_port()
                servers.append(start("seek", [args.seek, "serve", "-m", model, "--host", "127.0.0.1", "--port", str(port),
                                              "-np", str(args.np), "-c", str(args.ctx), "-t", str(args.threads)], port, logdir))
        if "llama" in want:
            if args.llama_url:
                servers.append(Server("llama-server", args.llama_url))
            else:
                if not args.llama_bin:
                    sys.exit("llama-server: pass --llama-bin DIR or set LLAMA_CPP_BIN (or --only seek)")
                exe = os.path.join(args.llama_bin, "llama-server")
                if not os.access(exe, os.X_OK):
                    sys.exit("no executable %s" % exe)
                model = args.model or default_model()
                port = free_port()
                servers.append(start("llama-server", [exe, "-m", model, "--host", "127.0.0.1", "--port", str(port),
                                                      "-np", str(args.np), "-c", str(args.ctx), "-t", str(args.threads),
                                                      "--no-webui"], port, logdir))
        for s in servers:
            dt = s.wait_ready(args.ready_timeout)
            print("%s ready in %.1f s at %s (model %s)" % (s.name, dt, s.url, s.model), flush=True)

        # one small warm-up request each (page in the weights)
        for s in servers:
            asyncio.run(one_request(s, "Hello", 4))

        if args.prefix:
            print("\n%-13s %-22s %7s %7s %9s %13s" % ("server", "request", "prompt", "cached", "TTFT ms", "TTFT / cold"))
            for s in servers:
                for name, pt, cached, ttft, ratio in prefix_reuse(s, text, args.prefix_chars):
                    print("%-13s %-22s %7d %7s %9.0f %12.0f%%" % (s.name, name, pt, "-" if cached is None else cached, ttft,
                                                                  ratio * 100), flush=True)
            return

        results = []
        print("\n%-13s %4s %9s %9s %10s %10s %9s %6s %6s %8s" % (
            "server", "conc", "out tok/s", "all tok/s", "TTFT p50ms", "TTFT p99ms", "TPOT ms", "prompt", "output", "wall s"))
        for li, conc in enumerate(levels):
            prompts = build_prompts(text, args.prompts, li + 1, args.short_prompts)
            for s in servers:
                r = asyncio.run(run_level(s, prompts, conc))
                results.append(r)
                print(fmt_row(r), flush=True)

        by = {(r["server"], r["concurrency"]): r for r in results}
        print()
        if len(servers) == 2:
            for conc in levels:
                a, b = by.get(("seek", conc)), by.get(("llama-server", conc))
                if a and b and b["tok_s"] > 0:
                    print("c%-3d seek / llama-server: throughput %.2f, TTFT p50 %.2f, TPOT %.2f" % (
                        conc, a["tok_s"] / b["tok_s"], a["ttft_p50_ms"] / b["ttft_p50_ms"], a["tpot_ms"] / b["tpot_ms"]))
        for s in servers:
            lo, hi = by.get((s.name, min(levels))), by.get((s.name, max(levels)))
            if lo and hi and lo["tok_s"] > 0 and len(levels) > 1:
                print("%s c%d / c%d throughput: %.2f" % (s.name, max(levels), min(levels), hi["tok_s"] / lo["tok_s"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"model": args.model, "np": args.np, "ctx": args.ctx, "threads": args.threads,
                           "prompts": args.prompts, "short_prompts": args.short_prompts, "results": results}, f, indent=1)
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
