#!/usr/bin/env python3
"""What quantization costs: perplexity and file size of one model in many formats, each file
measured by `seek perplexity` and by llama.cpp's `llama-perplexity` on the same text and settings,
and each file's greedy text in `seek run` and llama.cpp's `llama-completion`.

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
"seek from llama.cpp" is the KL divergence of seek's next-token distributions from llama.cpp's on the
same file and text (llama-perplexity --kl-divergence-base, its file rewritten for seek perplexity
--kl-divergence) and how often both put the same token first; "llama.cpp -fa off from -fa on" is the
same between two of llama.cpp's own code paths: the spread that rounding alone gives. Where weights
are quantized, activations are too (to q8_0 / q8_1 / q8_K, in both engines), and a rounding-level
change in an activation can move its 8-bit level, so that spread is far larger than with f16 weights.
"greedy text": -n greedy steps of `seek run` and of llama.cpp's llama-completion with its flash
attention on (what llama-simple runs on a CPU) and off, all with an f32 KV cache: the file's
arithmetic without the fp16 rounding of keys and values (and, in llama.cpp, of queries and attention
weights), which is a run-time choice of each engine, not the file's. "equal" means all three texts
are equal; where they part, the cell gives the step, whether llama.cpp took seek's second choice
there, and seek's top-2 logprob margin (from `seek serve` logprobs): a small margin means the two
engines' rounding broke a near-tie, not that the file reads differently. After the ";" the same
comparison with both engines' default f16 cache (seek against llama.cpp's -fa on).

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
from llama_agree import llama_greedy, seek_greedy  # noqa: E402
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


def seek_divergence(seek, gguf, theirs, n, cache):
    """Where seek's greedy continuation (from `seek serve` with KV cache type cache, top-2
    logprobs per step) leaves llama.cpp's text: (step, seek's top-2 logprob margin there, whether
    llama.cpp took seek's second choice), or None."""
    port = free_port()
    srv = subprocess.Popen([seek, "serve", "-m", gguf, "--port", str(port), "-np", "1", "-c", "512", "-ctk", cache, "-ctv", cache],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        # theirs is stripped (as seek_greedy's and llama_greedy's texts are): so is the text seek builds
        done = ""
        for step, (tok, top) in enumerate(zip(lp["tokens"], lp["top_logprobs"])):
            cand = (done + tok).lstrip()
            if theirs.startswith(cand) or theirs == cand.rstrip():
                done += tok
                continue
            ranked = sorted(top.items(), key=lambda kv: -kv[1])
            rest = theirs[len(done.lstrip()):]
            second = len(ranked) > 1 and rest.startswith(ranked[1][0] if done.strip() else ranked[1][0].lstrip())
            return step, ranked[0][1] - ranked[1][1] if len(ranked) > 1 else float("nan"), second
        return None
    except Exception as e:  # an explanation, not a measurement the table depends on
        print(f"note: no logprobs from seek serve: {e}", file=sys.stderr)
        return None
    finally:
        srv.terminate()
        srv.wait()


def parting(seek, gguf, ours, theirs, n, cache):
    """A few words on where seek's text ours leaves llama.cpp's theirs."""
    d = seek_divergence(seek, gguf, theirs, n, cache)
    if d is None:
        return "differs (no logprobs to say where)"
    step, margin, second = d
    which = "seek's second choice" if second else "another token"
    return f"equal for {step} steps, then llama.cpp takes {which} (seek's top-2 logprob margin there {margin:.3f})"


def llama_logits_to_seek(src, dst):
    """Rewrites the log-probabilities llama-perplexity saves with --kl-divergence-base (its format:
    "_logits_", i32 n_ctx, n_vocab, n_chunk, the chunks' tokens, then for each scored token of each
    chunk -- the second half of the window, as seek scores it -- 2 floats (scale, min) and n_vocab
    uint16 q, log p = scale * q + min, padded to an even count; log p <= -16 is left out, as
    llama-perplexity's own --kl-divergence leaves it out) as seek perplexity's own base file
    ("SEEKKLD1", u32 n_vocab, n_ctx, u64 rows, then per row the next token i32 and n_vocab f32), so
    seek perplexity --kl-divergence measures seek against llama.cpp on the same file."""
    import numpy as np
    with open(src, "rb") as f:
        if f.read(8) != b"_logits_":
            sys.exit(f"{src}: not a llama-perplexity logits file")
        n_ctx, n_vocab, n_chunk = (int(v) for v in np.fromfile(f, np.int32, 3))
        tokens = np.fromfile(f, np.int32, n_chunk * n_ctx).reshape(n_chunk, n_ctx)
        first = n_ctx // 2
        rows = n_ctx - 1 - first
        nv = 2 * ((n_vocab + 1) // 2) + 4
        with open(dst, "wb") as out:
            out.write(b"SEEKKLD1" + np.array([n_vocab, n_ctx], np.uint32).tobytes() +
                      np.array([n_chunk * rows], np.uint64).tobytes())
            for c in range(n_chunk):
                q = np.fromfile(f, np.uint16, rows * nv).reshape(rows, nv)
                head = q[:, :4].copy().view(np.float32)  # (rows, 2): scale, min log-probability
                lp = q[:, 4:4 + n_vocab].astype(np.float32) * head[:, :1] + head[:, 1:2]
                # llama.cpp stores every logit more than 16 below the top as the same value, and its
                # own KL divergence skips log p <= -16: so does this file (log p -1e30, p = 0)
                lp[lp <= -16.0] = -1e30
                rec = np.empty((rows, n_vocab + 1), np.float32)
                rec[:, 0] = tokens[c, first + 1:first + 1 + rows].view(np.float32)
                rec[:, 1:] = lp
                rec.tofile(out)


def cross_kld(seek, llama_ppl, common, tmp):
    """llama-perplexity on the file (PPL, as perplexity() returns it) saving its log-probabilities;
    llama-perplexity again with its flash attention off against them (llama.cpp's own spread
    between two of its code paths); then seek perplexity against them. Returns (llama.cpp PPL,
    "KLD / same top" of seek from llama.cpp, the same of llama.cpp -fa off from -fa on)."""
    lk, sk = os.path.join(tmp, "cross.llama"), os.path.join(tmp, "cross.seek")
    try:
        l_ppl, _, _, _ = perplexity([llama_ppl] + common + ["--kl-divergence-base", lk])
        for attempt in range(2):  # llama-perplexity now and then exits 0 without its summary: one retry
            r = subprocess.run([llama_ppl] + common + ["-fa", "off", "--kl-divergence-base", lk, "--kl-divergence"],
                               capture_output=True, text=True, errors="replace")
            lk_m = re.search(r"Mean\s+KLD:\s+(-?[0-9.]+)", r.stdout + r.stderr)
            lt_m = re.search(r"Same top p:\s+([0-9.]+)", r.stdout + r.stderr)
            if lk_m and lt_m:
                break
        own = f"{lk_m.group(1)} / {lt_m.group(1)}%" if lk_m and lt_m else "failed"
        llama_logits_to_seek(lk, sk)
        os.unlink(lk)
        r = subprocess.run([seek, "perplexity"] + common + ["--kl-divergence-base", sk, "--kl-divergence"], capture_output=True,
                           text=True, errors="replace")
        if r.returncode != 0:
            sys.exit("seek perplexity against llama.cpp's log-probabilities failed:\n" + "\n".join(r.stderr.strip().splitlines()[-3:]))
        kld = re.search(r"Mean KLD: ([0-9.]+)", r.stdout).group(1)
        top = re.search(r"Same top: ([0-9.]+)", r.stdout).group(1)
        return l_ppl, f"{kld} / {top}%", own
    finally:
        for f in (lk, sk):
            if os.path.exists(f):
                os.unlink(f)


def greedy_cell(seek, llama_bin, gguf, n):
    """Greedy text of seek and llama.cpp (llama-completion, flash attention on and off), both with
    an f32 KV cache: the file's arithmetic without either engine's fp16 rounding of keys and
    values (and llama.cpp's of queries and attention weights), which is a run-time choice, not
    the file's. Then, as a note, the same with both engines' default f16 cache."""
    on, off = llama_greedy(llama_bin, gguf, PROMPT, n, "on", "f32"), llama_greedy(llama_bin, gguf, PROMPT, n, "off", "f32")
    if on is None or off is None:
        return "llama.cpp does not load it"
    ours = seek_greedy(seek, gguf, PROMPT, n, "f32")
    if ours == on and ours == off:
        cell = f"equal ({n} steps)"
    elif ours in (on, off):
        cell = f"equal to llama.cpp's with -fa {'on' if ours == on else 'off'} ({n} steps); its other path parts from both"
    else:
        cell = parting(seek, gguf, ours, on, n, "f32") + ("; llama.cpp's -fa on and off part too" if on != off else "")
    ours16, on16 = seek_greedy(seek, gguf, PROMPT, n), llama_greedy(llama_bin, gguf, PROMPT, n, "on")
    if on16 is not None:
        cell += "; f16 cache: " + ("equal" if ours16 == on16 else parting(seek, gguf, ours16, on16, n, "f16"))
    return cell


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
                     "seek from llama.cpp: KLD / same top | llama.cpp -fa off from -fa on: KLD / same top | greedy text vs llama.cpp |")
        lines.append(f"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |{lk_sep} ---: | ---: | --- |")
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
            l_ppl, x_seek, x_own = cross_kld(a.seek, llama_ppl, common, tmp)
            row = (f"| {label} | {os.path.getsize(path) / 2**20:.2f} | {bits_per_weight(a.seek, path):.2f} | {s_ppl:.4f} +/- {s_err:.4f} "
                   f"| {l_ppl:.4f} | {(s_ppl - l_ppl) / l_ppl * 100:+.3f}% | {kld[0]} +/- {kld[1]} | {top}% ")
            if a.llama_kld:
                for attempt in range(3):  # llama-perplexity now and then exits 0 without its summary: retry
                    lr = subprocess.run([llama_ppl, "-m", path, "-t", str(a.t), "--kl-divergence-base", l_base, "--kl-divergence"],
                                        capture_output=True, text=True, errors="replace")
                    lk = re.search(r"Mean\s+KLD:\s+(-?[0-9.]+)", lr.stdout + lr.stderr)
                    if lk:
                        break
                    print(f"llama-perplexity --kl-divergence on {path} (exit {lr.returncode}):\n" +
                          "\n".join(lr.stderr.strip().splitlines()[-3:]), file=sys.stderr)
                row += f"| {lk.group(1) if lk else 'failed'} "
            row += f"| {x_seek} | {x_own} | {greedy_cell(a.seek, a.llama_bin, path, a.n)} |"
            lines.append(row)
            print(row, file=sys.stderr)
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write(text + "\n\n")


if __name__ == "__main__":
    main()
