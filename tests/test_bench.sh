#!/usr/bin/env bash
# seek bench --json prints one JSON object per test per line with llama-bench's fields
# (test "ppN"/"tgN", n_threads, avg_ts, stddev_ts, samples_ts, model_size, model_type), with
# as many samples as repetitions and positive speeds; -np 3 adds "tg8 x 3" (3 sequences decoding
# together), -d 16 runs each test after 16 tokens in the cache. Usage: test_bench.sh path/to/seek
set -u
seek=$1
out=$("$seek" bench -p 32 -n 8 -np 3 -r 3 -t 2 --json 2>/dev/null) || { echo "FAIL: bench exited $?"; exit 1; }
deep=$("$seek" bench -p 8 -n 4 -d 16 -r 2 -t 2 --json 2>/dev/null) || { echo "FAIL: bench -d exited $?"; exit 1; }
python3 - "$out" "$deep" <<'PY'
import json, sys
lines = sys.argv[1].strip().splitlines()
ok = 0
bad = []
def check(name, cond):
    global ok
    if cond: ok += 1
    else: bad.append(name)
check("three lines", len(lines) == 3)
objs = [json.loads(l) for l in lines]
check("tests", [o["test"] for o in objs] == ["pp32", "tg8", "tg8 x 3"])
for o in objs:
    for k in ["test", "n_threads", "avg_ts", "stddev_ts", "samples_ts", "model_size", "model_type"]:
        check(o["test"] + " has " + k, k in o)
    check(o["test"] + " samples", len(o["samples_ts"]) == 3 and all(s > 0 for s in o["samples_ts"]))
    check(o["test"] + " threads", o["n_threads"] == 2)
    check(o["test"] + " avg", abs(o["avg_ts"] - sum(o["samples_ts"]) / 3) < 1e-3 * o["avg_ts"])
    check(o["test"] + " bits per weight", abs(o["bits_per_weight"] - 8 * o["model_size"] / o["model_n_params"]) < 1e-3)
# -d: each test after that many tokens already in the cache, named as llama-bench names it
deep = [json.loads(l) for l in sys.argv[2].strip().splitlines()]
check("depth tests", [o["test"] for o in deep] == ["pp8 @ d16", "tg4 @ d16"])
check("depth speeds", all(o["avg_ts"] > 0 for o in deep))
for b in bad: print("FAIL:", b)
print(f"test_bench: {ok} passed, {len(bad)} failed")
sys.exit(1 if bad else 0)
PY
