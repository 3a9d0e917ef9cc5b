#!/usr/bin/env bash
# seek serve on a DeepSeek-V3 style model (MLA + routed experts, the tiny dsv3 Hugging Face folder
# of tests/ref/gen_hf_models.py, loaded directly): concurrent greedy requests give exactly the
# text each gives alone (routing and latent attention do not depend on the batch), and the R1
# chat template's open <think> block comes back as message.reasoning_content, not content.
# Usage: test_server_deepseek.sh path/to/seek   (from the repository root)
set -u
seek=$1
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); print(p)')
"$seek" serve -m tests/fixtures/hf/dsv3 --port "$port" -np 4 -c 512 >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; sleep 0.5; kill -9 $pid 2>/dev/null; rm -rf "$dir"' EXIT
python3 - "$port" "$pid" <<'PY'
import json, os, sys, threading, time, urllib.request
port, pid = int(sys.argv[1]), int(sys.argv[2])
base = "http://127.0.0.1:%d" % port
for _ in range(300):
    try:
        if urllib.request.urlopen(base + "/health", timeout=2).status == 200:
            break
    except Exception:
        time.sleep(0.2)
def chat(content, n):
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": n, "temperature": 0}
    req = urllib.request.Request(base + "/v1/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=120).read())
prompts = ["To be or not to be", "What light through yonder window", "Now is the winter", "Friends, Romans", "All the world",
           "O Romeo, Romeo", "Double, double toil", "If music be the food"]
alone = [chat(p, 6 + 3 * i) for i, p in enumerate(prompts)]
together = [None] * len(prompts)
def work(i):
    together[i] = chat(prompts[i], 6 + 3 * i)
threads = [threading.Thread(target=work, args=(i,)) for i in range(len(prompts))]
[t.start() for t in threads]
[t.join() for t in threads]
fails = 0
for i, (a, b) in enumerate(zip(alone, together)):
    ma, mb = a["choices"][0]["message"], b["choices"][0]["message"]
    if ma != mb:
        fails += 1
        print("FAIL: request %d differs when batched: %r vs %r" % (i, ma, mb))
# the random model never closes the reasoning the R1 template opened: all of it is reasoning
m = alone[0]["choices"][0]["message"]
if not m.get("reasoning_content") or m.get("content"):
    fails += 1
    print("FAIL: expected reasoning_content only, got %r" % m)
print("test_server_deepseek: %d requests, %d failures" % (len(prompts) + 1, fails))
sys.exit(1 if fails else 0)
PY
