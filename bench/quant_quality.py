#!/usr/bin/env python3
"""What quantization costs: perplexity and file size of one model in many formats, each file
measured by `seek perplexity` and by llama.cpp's `llama-perplexity` on the same text and settings,
and each file's greedy text in `seek run` and llama.cpp's `llama-simple`.

For a model (a GGUF; quantized ones are first expanded to f16 with seek quantize ... f16
--allow-requantize, as the default model must be) it writes, with `seek quantize`:
    f16, q8_0, q6_k, q5_k_m, q4_k_m, q4_0 (round-to-nearest, llama-quantize's rules and bytes),
    gptq q4_0, gptq q4_k_m (--gptq --calib CALIB), and with --act-order gptq q4_0 act order,
and one file from llama.cpp's own llama-quantize (q4_k_m), to show that seek reads those.
The text is split: the evaluation text is the last --eval-bytes of --text, the calibration text
its first --calib-bytes (disjoint). Prints a markdown table (and writes it with --out):
    file | size MiB | bits/weight | seek PPL | llama.cpp PPL | difference | greedy text
"difference" is (seek - llama.cpp) / llama.cpp; the issue asks for |difference| <= 0.5%. "seek KLD from f16"
is the mean KL divergence of each file's next-token distributions from the f16 file's over the scored tokens
(`seek perplexity --kl-divergence`, as llama-perplexity's), "same top" how often both put the same token
first; with --llama-kld, llama-perplexity's own KL divergence (from its f16 run) is shown next to it.
"greedy text": equal over -n steps, or the step where the two engines first choose differently,
whether llama.cpp took seek's second choice there, and seek's top-2 logprob margin (from `seek
serve` logprobs): a small margin means the two kernels' rounding broke a near-tie, not that the
file reads differently. Where they part, llama.cpp is also run with its flash attention off
(llama-completion -fa off; llama-simple runs it on): if seek's text equals that one the cell says so,
and if llama.cpp's own two attention paths give different texts that is shown too, since a near-tie
that llama.cpp breaks two ways is one no second engine can be expected to break as both do.

llama.cpp comes from an existing build (LLAMA_CPP_BIN or --llama-bin); this repository neither
builds nor contains it.

usage: bench/quant_quality.py -m MODEL --text FILE [--name NAME] [--eval-bytes 40000]
       [--calib-bytes 300000] [-c 512] [--calib-windows 32] [-t 2] [--act-order] [--llama-kld] [--out FILE.md]"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from llama_agree import greedy_agree, llama_greedy, seek_greedy  # noqa: E402
from ppl_compare import FINAL, default_model, is_quantized, perplexity  # noqa: E402

PROMPT = "To be or not to be"


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n" + "\n".join(r.stderr.strip().splitlines()[-5:]))
    return r.stderr


def bits_per_weight(seek, path):
    info = subprocess.run([seek, "info", path], capture_output=True, text=True, errors="replace").stdout
    m = re.search(r"\(([0-9.]+) bits per weight\)", info)
    return float(m.group(1)) if m else float("nan")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seek_divergence(seek, gguf, theirs, n):
    """Where seek's greedy continuation (from `seek serve`, with top-2 logprobs per step) leaves
    llama.cpp's text: (step, seek's top-2 logprob margin there, whether llama.cpp took seek's
    second choice), or None."""
    port = free_port()
    srv = subprocess.Popen([seek, "serve", "-m", gguf, "--port", str(port), "-np", "1", "-c", "512"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        body = json.dumps({"prompt": PROMPT, "max_tokens": n, "temperature": 0, "logprobs": 2}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", body, {"Content-Type": "application/json"})
        lp = json.load(urllib.request.urlopen(req, timeout=120))["choices"][0]["logprobs"]
        done = ""
        for step, (tok, top) in enumerate(zip(lp["tokens"], lp["top_logprobs"])):
            if theirs.startswith(done + tok):
                done += tok
                continue
            ranked = sorted(top.items(), key=lambda kv: -kv[1])
            second = len(ranked) > 1 and theirs[len(done):].startswith(ranked[1][0])
            return step, ranked[0][1] - ranked[1][1] if len(ranked) > 1 else float("nan"), second
        return None
    except Exception as e:  # an explanation, not a measurement the table depends on
        print(f"note: no logprobs from seek serve: {e}", file=sys.stderr)
        return None
    finally:
        srv.terminate()
        srv.wait()


def greedy_cell(seek, llama_bin, gguf, n):
    loads, same, _ = greedy_agree(seek, llama_bin, gguf, PROMPT, n)
    if not loads:
        return "llama.cpp does not load it"
    if same:
        return f"equal ({n} steps)"
    on, off = llama_greedy(llama_bin, gguf, PROMPT, n, "on"), llama_greedy(llama_bin, gguf, PROMPT, n, "off")
    if off is not None and off == seek_greedy(seek, gguf, PROMPT, n):
        return f"equal to llama.cpp's with -fa off ({n} steps); its default (-fa on) parts from both"
    theirs = subprocess.run([os.path.join(llama_bin, "llama-simple"), "-m", gguf, "-n", str(n), PROMPT],
                            capture_output=True).stdout.decode("utf-8", "replace")
    theirs = theirs[theirs.find(PROMPT) + len(PROMPT):] if PROMPT in theirs else theirs
    d = seek_divergence(seek, gguf, theirs, n)
    if d is None:
        return "differs (no logprobs to say where)"
    step, margin, second = d
    which = "seek's second choice" if second else "another token"
    own = "; llama.cpp's own -fa on and -fa off texts differ too" if on is not None and off is not None and on != off else ""
    return f"equal for {step} steps, then llama.cpp takes {which}; seek's top-2 logprob margin there {margin:.3f}{own}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", help="GGUF (default: scripts/get-model.sh's model)")
    ap.add_argument("--name", help="the model's name in the table")
    ap.add_argument("--text", required=True)
    ap.add_argument("--eval-bytes", type=int, default=40000)
    ap.add_argument("--calib-bytes", type=int, default=300000)
    ap.add_argument("-c", type=int, default=512)
    ap.add_argument("--calib-windows", type=int, default=32)
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("-n", type=int, default=24, help="greedy steps compared")
    ap.add_argument("--act-order", action="store_true", help="also GPTQ q4_0 with activation order")
    ap.add_argument("--llama-kld", action="store_true", help="also llama-perplexity's KL divergence from its own f16 run")
    ap.add_argument("--out", help="also write the table here")
    ap.add_argument("--seek", default=os.path.join(ROOT, "build", "seek"))
    ap.add_argument("--llama-bin", default=os.environ.get("LLAMA_CPP_BIN"))
    a = ap.parse_args()
    if not a.llama_bin:
        sys.exit("set LLAMA_CPP_BIN (or --llama-bin) to the folder of an existing llama.cpp build")
    model = a.model or default_model()
    raw = open(a.text, "rb").read()
    if a.eval_bytes + a.calib_bytes > len(raw):
        sys.exit(f"--text has {len(raw)} bytes, fewer than --eval-bytes + --calib-bytes")
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        ev, cal = os.path.join(tmp, "eval.txt"), os.path.join(tmp, "calib.txt")
        open(ev, "wb").write(raw[-a.eval_bytes:])
        open(cal, "wb").write(raw[:a.calib_bytes])
        f16 = os.path.join(tmp, "f16.gguf")
        allow = ["--allow-requantize"] if is_quantized(a.seek, model) else []
        run([a.seek, "quantize", model, f16, "f16", "-t", str(a.t)] + allow)
        gptq = ["--gptq", "--calib", cal, "-c", str(a.c), "--calib-windows", str(a.calib_windows)]
        files = [("f16", f16, None)]
        for t in ["q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0"]:
            files.append((t, os.path.join(tmp, t + ".gguf"), [t]))
        files.append(("gptq q4_0", os.path.join(tmp, "gptq_q4_0.gguf"), ["q4_0"] + gptq))
        files.append(("gptq q4_k_m", os.path.join(tmp, "gptq_q4_k_m.gguf"), ["q4_k_m"] + gptq))
        if a.act_order:
            files.append(("gptq q4_0 act order", os.path.join(tmp, "gptq_q4_0_ao.gguf"), ["q4_0"] + gptq + ["--act-order"]))
        seconds = {}
        for label, path, args in files:
            if args:
                t0 = time.time()
                log = run([a.seek, "quantize", f16, path, args[0], "-t", str(a.t)] + args[1:])
                seconds[label] = time.time() - t0
                m = re.search(r"proxy loss ([0-9.]+) of round-to-nearest", log)
                if m:
                    print(f"{label}: GPTQ proxy loss {m.group(1)} of round-to-nearest's, {seconds[label]:.0f} s", file=sys.stderr)
        theirs = os.path.join(tmp, "llama_q4_k_m.gguf")
        run([os.path.join(a.llama_bin, "llama-quantize"), f16, theirs, "Q4_K_M", str(a.t)])
        files.append(("q4_k_m by llama-quantize", theirs, None))

        name = a.name or os.path.basename(model)
        lines.append(f"model: {name}; evaluation text: the last {a.eval_bytes} bytes of {os.path.basename(a.text)}; GPTQ "
                     f"calibration: its first {a.calib_bytes} bytes, at most {a.calib_windows} windows of {a.c}; -c {a.c} -b {a.c} "
                     f"-t {a.t}")
        lines.append("")
        lk_col, lk_sep = (" llama.cpp KLD |", " ---: |") if a.llama_kld else ("", "")
        lines.append(f"| file | size MiB | bits/weight | seek PPL | llama.cpp PPL | difference | seek KLD from f16 | same top |{lk_col} "
                     "greedy text vs llama.cpp |")
        lines.append(f"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |{lk_sep} --- |")
        # the f16 model's log-probabilities: each file's KL divergence from it (seek, and llama.cpp with --llama-kld)
        llama_ppl = os.path.join(a.llama_bin, "llama-perplexity")
        win = ["-f", ev, "-c", str(a.c), "-b", str(a.c), "-t", str(a.t)]
        s_base, l_base = os.path.join(tmp, "seek.kld"), os.path.join(tmp, "llama.kld")
        perplexity([a.seek, "perplexity", "-m", f16] + win + ["--kl-divergence-base", s_base])
        if a.llama_kld:
            perplexity([llama_ppl, "-m", f16] + win + ["--kl-divergence-base", l_base])
        for label, path, _ in files:
            common = ["-m", path] + win
            r = subprocess.run([a.seek, "perplexity"] + common + ["--kl-divergence-base", s_base, "--kl-divergence"],
                               capture_output=True, text=True, errors="replace")
            if r.returncode != 0:
                sys.exit(f"seek perplexity --kl-divergence failed on {path}:\n" + "\n".join(r.stderr.strip().splitlines()[-3:]))
            s_ppl, s_err = (float(v) for v in FINAL.search(r.stdout).groups())
            kld = re.search(r"Mean KLD: ([0-9.]+) \+/- ([0-9.]+)", r.stdout).groups()
            top = re.search(r"Same top: ([0-9.]+)", r.stdout).group(1)
            l_ppl, _, _, _ = perplexity([llama_ppl] + common)
            row = (f"| {label} | {os.path.getsize(path) / 2**20:.2f} | {bits_per_weight(a.seek, path):.2f} | {s_ppl:.4f} +/- {s_err:.4f} "
                   f"| {l_ppl:.4f} | {(s_ppl - l_ppl) / l_ppl * 100:+.3f}% | {kld[0]} +/- {kld[1]} | {top}% ")
            if a.llama_kld:
                for attempt in range(2):  # llama-perplexity now and then exits 0 without its summary: one retry
                    lr = subprocess.run([llama_ppl, "-m", path, "-t", str(a.t), "--kl-divergence-base", l_base, "--kl-divergence"],
                                        capture_output=True, text=True, errors="replace")
                    lk = re.search(r"Mean\s+KLD:\s+(-?[0-9.]+)", lr.stdout + lr.stderr)
                    if lk:
                        break
                    print(f"llama-perplexity --kl-divergence on {path} (exit {lr.returncode}):\n" +
                          "\n".join(lr.stderr.strip().splitlines()[-3:]), file=sys.stderr)
                row += f"| {lk.group(1) if lk else 'failed'} "
            row += f"| {greedy_cell(a.seek, a.llama_bin, path, a.n)} |"
            lines.append(row)
            print(row, file=sys.stderr)
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write(text + "\n\n")


if __name__ == "__main__":
    main()
