#!/usr/bin/env python3
"""seek vs llama.cpp, side by side on the same GGUF files: prompt processing (ppN) and
generation (tgN) tokens/s, with runs interleaved (seek, llama.cpp, seek, ...) so both see the
same machine state, medians and spread of the samples, and the ratio seek / llama.cpp.

llama.cpp comes from an existing build the user points at (LLAMA_CPP_BIN or --llama-bin: the
folder holding llama-bench); this repo neither holds nor builds llama.cpp.

usage: bench/compare.py [--seek build/seek] [--llama-bin DIR] [-p 512] [-n 128] [-t 2]
                        [--rounds 5] [MODEL.gguf ...]     (default: the default model)"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def run_jsonl(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def default_model():
    return subprocess.run(["./scripts/get-model.sh"], check=True, capture_output=True, text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*")
    ap.add_argument("--seek", default="build/seek")
    ap.add_argument("--llama-bin", default=os.environ.get("LLAMA_CPP_BIN"))
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved runs of each engine")
    a = ap.parse_args()
    if not a.llama_bin:
        sys.exit("set LLAMA_CPP_BIN (or --llama-bin) to the folder of an existing llama.cpp build's llama-bench")
    llama_bench = os.path.join(a.llama_bin, "llama-bench")
    models = a.models or [default_model()]
    rows = []
    for m in models:
        samples = {}  # (engine, test) -> [t/s]
        for r in range(a.rounds):
            for engine in ("seek", "llama.cpp"):
                if engine == "seek":
                    cmd = [a.seek, "bench", "-m", m, "-p", str(a.p), "-n", str(a.n), "-t", str(a.t), "-r", "1", "--json"]
                else:
                    cmd = [llama_bench, "-m", m, "-p", str(a.p), "-n", str(a.n), "-t", str(a.t), "-r", "1", "-o", "jsonl"]
                for o in run_jsonl(cmd):
                    test = o.get("test") or (f"pp{o['n_prompt']}" if o["n_prompt"] else f"tg{o['n_gen']}")
                    samples.setdefault((engine, test), []).extend(o["samples_ts"])
            print(f"  {os.path.basename(m)}: round {r + 1}/{a.rounds} done", file=sys.stderr)
        for test in (f"pp{a.p}", f"tg{a.n}"):
            s, l = samples.get(("seek", test), []), samples.get(("llama.cpp", test), [])
            if not s or not l:
                continue
            ms, ml = statistics.median(s), statistics.median(l)
            rows.append((os.path.basename(m), test, ms, min(s), max(s), ml, min(l), max(l), ms / ml))
    print(f"\n{a.t} threads, {a.rounds} interleaved runs each; t/s as median [min-max]\n")
    print("| model | test | seek t/s | llama.cpp t/s | seek / llama.cpp |")
    print("| --- | --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.1f} [{r[3]:.1f}-{r[4]:.1f}] | {r[5]:.1f} [{r[6]:.1f}-{r[7]:.1f}] | {r[8]:.2f} |")


if __name__ == "__main__":
    main()
