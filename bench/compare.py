#!/usr/bin/env python3
"""seek vs llama.cpp, side by side on the same GGUF files: prompt processing (ppN) and
generation (tgN) tokens/s, with runs interleaved (seek, llama.cpp, seek, ...) so both see the
same machine state, medians and spread of the samples, and the ratio seek / llama.cpp.
It first measures this machine's ceilings with seek-roofline (DRAM read bandwidth, fp32 FMA
and int8 peaks) and reports decode as a fraction of the bandwidth roofline
(bandwidth / bytes of weights read per token; for mixture-of-experts models only the routed
experts' weights count, and the table prints those bytes per token).

--long N adds a long-prompt test on the first model: ppN for both engines, llama.cpp with flash
attention on (-fa 1). --scaling adds decode with 1 thread vs -t threads for seek on each model.

--formats derives F16, Q8_0, Q4_0 and Q4_K_M versions of the first model with llama.cpp's
llama-quantize (--allow-requantize) into bench/models/ (ignored by git) and benchmarks all.

llama.cpp comes from an existing build the user points at (LLAMA_CPP_BIN or --llama-bin: the
folder holding llama-bench); this repo neither holds nor builds llama.cpp.

usage: bench/compare.py [--seek build/seek] [--llama-bin DIR] [-p 512] [-n 128] [-t 2]
                        [--rounds 5] [--formats] [--long 4096] [--scaling] [MODEL.gguf ...]
                        (default: the default model)"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def run_jsonl(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def machine_ceilings(seek, threads):
    """This machine's ceilings from seek-roofline beside the seek binary: read_gbs, fma_gflops, int8_gops."""
    exe = os.path.join(os.path.dirname(os.path.abspath(seek)), "seek-roofline")
    return json.loads(subprocess.run([exe, "-t", str(threads)], check=True, capture_output=True, text=True).stdout)


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
    ap.add_argument("--formats", action="store_true", help="also F16/Q8_0/Q4_0/Q4_K_M made by llama-quantize")
    ap.add_argument("--long", type=int, default=0, help="also ppN on the first model (llama.cpp with -fa 1)")
    ap.add_argument("--scaling", action="store_true", help="also seek decode on 1 thread vs -t threads")
    a = ap.parse_args()
    if not a.llama_bin:
        sys.exit("set LLAMA_CPP_BIN (or --llama-bin) to the folder of an existing llama.cpp build's llama-bench")
    llama_bench = os.path.join(a.llama_bin, "llama-bench")
    models = a.models or [default_model()]
    if a.formats:
        os.makedirs("bench/models", exist_ok=True)
        base = models[0]
        for t in ("F16", "Q8_0", "Q4_0", "Q4_K_M"):
            out = os.path.join("bench/models", os.path.basename(base).rsplit(".", 2)[0] + f".{t}.gguf")
            if not os.path.exists(out):
                subprocess.run([os.path.join(a.llama_bin, "llama-quantize"), "--allow-requantize", base, out, t],
                               check=True, capture_output=True)
            models.append(out)
    roof = machine_ceilings(a.seek, a.t)
    print(f"machine: read {roof['read_gbs']:.1f} GB/s, fp32 FMA {roof['fma_gflops']:.0f} GFLOP/s, "
          f"int8 {roof['int8_gops']:.0f} GOP/s ({a.t} threads)", file=sys.stderr)
    rows = []
    for m in models:
        samples = {}  # (engine, test) -> [t/s]
        size = {}
        for r in range(a.rounds):
            for engine in ("seek", "llama.cpp"):
                if engine == "seek":
                    cmd = [a.seek, "bench", "-m", m, "-p", str(a.p), "-n", str(a.n), "-t", str(a.t), "-r", "1", "--json"]
                else:
                    cmd = [llama_bench, "-m", m, "-p", str(a.p), "-n", str(a.n), "-t", str(a.t), "-r", "1", "-o", "jsonl"]
                for o in run_jsonl(cmd):
                    test = o.get("test") or (f"pp{o['n_prompt']}" if o["n_prompt"] else f"tg{o['n_gen']}")
                    size[engine] = o.get("active_size", o["model_size"])
                    samples.setdefault((engine, test), []).extend(o["samples_ts"])
            print(f"  {os.path.basename(m)}: round {r + 1}/{a.rounds} done", file=sys.stderr)
        for test in (f"pp{a.p}", f"tg{a.n}"):
            s, l = samples.get(("seek", test), []), samples.get(("llama.cpp", test), [])
            if not s or not l:
                continue
            ms, ml = statistics.median(s), statistics.median(l)
            # decode reads every weight once per token (MoE: only the routed experts', which seek
            # reports as active_size): roofline = bandwidth / those bytes
            roofline = roof["read_gbs"] * 1e9 / size["seek"] if test.startswith("tg") else None
            rows.append((os.path.basename(m), test, ms, min(s), max(s), ml, min(l), max(l), ms / ml, roofline, size["seek"]))
    if a.long:
        m, samples = models[0], {"seek": [], "llama.cpp": []}
        for r in range(a.rounds):
            for o in run_jsonl([a.seek, "bench", "-m", m, "-p", str(a.long), "-n", "0", "-t", str(a.t), "-r", "1", "--json"]):
                samples["seek"].extend(o["samples_ts"])
            for o in run_jsonl([llama_bench, "-m", m, "-p", str(a.long), "-n", "0", "-t", str(a.t), "-r", "1", "-fa", "1",
                                "-o", "jsonl"]):
                samples["llama.cpp"].extend(o["samples_ts"])
        s, l = samples["seek"], samples["llama.cpp"]
        ms, ml = statistics.median(s), statistics.median(l)
        rows.append((os.path.basename(m), f"pp{a.long} (llama.cpp -fa 1)", ms, min(s), max(s), ml, min(l), max(l), ms / ml, None, 0))
    scaling = []
    if a.scaling:
        for m in models:
            tg = {}
            for r in range(a.rounds):
                for t in (1, a.t):
                    for o in run_jsonl([a.seek, "bench", "-m", m, "-p", "0", "-n", str(a.n), "-t", str(t), "-r", "1", "--json"]):
                        tg.setdefault(t, []).extend(o["samples_ts"])
            scaling.append((os.path.basename(m), statistics.median(tg[1]), statistics.median(tg[a.t])))
    print(f"\n{a.t} threads, {a.rounds} interleaved runs each; t/s as median [min-max]; machine: read "
          f"{roof['read_gbs']:.1f} GB/s, fp32 FMA {roof['fma_gflops']:.0f} GFLOP/s, int8 {roof['int8_gops']:.0f} GOP/s\n")
    print("| model | test | seek t/s | llama.cpp t/s | seek / llama.cpp | weight MiB read per token | tg roofline t/s | seek share | llama.cpp share |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        roofs = f"{r[10] / 2**20:.1f} | {r[9]:.0f} | {100 * r[2] / r[9]:.0f}% | {100 * r[5] / r[9]:.0f}%" if r[9] else "- | - | - | -"
        print(f"| {r[0]} | {r[1]} | {r[2]:.1f} [{r[3]:.1f}-{r[4]:.1f}] | {r[5]:.1f} [{r[6]:.1f}-{r[7]:.1f}] | {r[8]:.2f} | {roofs} |")
    if scaling:
        print(f"\n| model | seek tg{a.n} 1 thread | {a.t} threads | speed-up |")
        print("| --- | ---: | ---: | ---: |")
        for name, one, many in scaling:
            print(f"| {name} | {one:.1f} | {many:.1f} | {many / one:.2f}x |")


if __name__ == "__main__":
    main()
