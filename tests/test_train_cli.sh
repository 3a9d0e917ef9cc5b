#!/usr/bin/env bash
# seek train / seek grow through the CLI on a small slice of tinyshakespeare:
# - bad input: each case exits non-zero with a message naming the problem before any step runs;
# - the lr of every step in log.jsonl equals the SGDR formula (PyTorch's CosineAnnealingWarmRestarts
#   when torch is installed, else the formula written out in Python);
# - resume: 20 steps + --resume to 40 give bit-identical losses for steps 21-40 to 40 steps in one go;
# - a checkpoint write killed by SIGKILL (test hook SEEK_TEST_KILL_IN_CKPT) leaves the previous
#   checkpoint intact and --resume continues from it;
# - the export runs with seek run; seek grow + --init continue training the grown model.
# Usage: test_train_cli.sh path/to/seek
set -u
seek=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# tinyshakespeare ($SEEK_TRAIN_TEXT or the shared data folder next to the checkout), else seek's own sources
for t in "${SEEK_TRAIN_TEXT:-}" ../shared/data/tinyshakespeare.txt /work/shared/data/tinyshakespeare.txt; do
  if [ -n "$t" ] && [ -s "$t" ]; then head -c 120000 "$t" >"$dir/corpus.txt"; break; fi
done
[ -s "$dir/corpus.txt" ] || { echo "note: tinyshakespeare.txt not found; training on seek's own sources"; cat src/*/*.c | head -c 120000 >"$dir/corpus.txt"; }
cat >"$dir/run.json" <<EOF
{"model": {"n_layer": 2, "dim": 32, "n_head": 4, "n_kv_head": 2, "ctx": 32, "vocab": 300, "attention": "mha",
           "position": "rope", "ffn": "moe", "n_expert": 8, "n_expert_used": 2, "n_shared_expert": 1, "expert_dim": 32,
           "n_dense_lead": 1, "balance": "aux_loss", "aux_loss_weight": 0.01},
 "data": {"train": ["$dir/corpus.txt"], "val_fraction": 0.05, "tokenizer": "bpe:300"},
 "optim": {"lr": 1e-2, "min_lr": 1e-3, "warmup": 3, "schedule": "cosine_restarts", "T_0": 5, "T_mult": 2,
           "weight_decay": 0.1, "micro_batch": 4, "seq_len": 16, "grad_accum": 2, "steps": 40, "precision": "fp32", "seed": 3},
 "run": {"out": "$dir/a", "eval_every": 10, "ckpt_every": 20, "threads": 2}}
EOF

# expect_fail NAME PATTERN ARGS...: non-zero exit, PATTERN on stderr, no step ran, no sanitizer report
expect_fail() {
  local name=$1 pattern=$2
  shift 2
  timeout 120 "$seek" "$@" >"$dir/out" 2>"$dir/err" </dev/null
  local rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q -- "$pattern" "$dir/err" && ! grep -q '^step ' "$dir/err" &&
     ! grep -q 'Sanitizer\|runtime error' "$dir/err"; then ok; else
    bad "$name: rc=$rc"; sed 's/^/    /' "$dir/err" | head -10
  fi
}
: >"$dir/empty.txt"
printf 'To be or not' >"$dir/tiny.txt"
mkdir -p "$dir/ro" && chmod 555 "$dir/ro"
expect_fail missing_data "cannot open data file" train --config "$dir/run.json" --train "$dir/nope.txt" --out "$dir/x1"
expect_fail empty_corpus "is empty" train --config "$dir/run.json" --train "$dir/empty.txt" --out "$dir/x2"
expect_fail short_corpus "fewer than one sequence" train --config "$dir/run.json" --train "$dir/tiny.txt" --tokenizer byte --out "$dir/x3"
expect_fail zero_experts "n_expert must be at least 1" train --config "$dir/run.json" --n_expert 0 --out "$dir/x4"
expect_fail topk_gt_experts "n_expert_used 9 must be between 1 and n_expert 8" train --config "$dir/run.json" --n_expert_used 9 --out "$dir/x5"
expect_fail heads_dim "n_head 5 does not divide dim 32" train --config "$dir/run.json" --n_head 5 --n_kv_head 5 --out "$dir/x6"
if [ "$(id -u)" != 0 ]; then
  expect_fail unwritable "cannot write into the output folder\|cannot create folder" train --config "$dir/run.json" --out "$dir/ro/run"
fi
expect_fail unwritable_file "cannot create folder" train --config "$dir/run.json" --out "$dir/corpus.txt/run"
expect_fail unknown_field "unknown field 'model.n_layers'" train --config <(echo '{"model": {"n_layers": 2}}')
expect_fail bad_value "optim.lr = -1 is out of range" train --config "$dir/run.json" --lr -1
expect_fail bad_enum "is not one of: fp32, bf16, fp8" train --config "$dir/run.json" --precision fp16
expect_fail bad_json "unexpected token\|end of file" train --config <(echo '{"model": ')
expect_fail resume_nothing "no complete checkpoint" train --config "$dir/run.json" --out "$dir/x7" --resume

# one uninterrupted run of 40 steps
if "$seek" train --config "$dir/run.json" 2>"$dir/a.err"; then ok; else bad "training run a"; tail -5 "$dir/a.err"; fi
[ "$(wc -l <"$dir/a/log.jsonl")" -eq 40 ] && ok || bad "log.jsonl has $(wc -l <"$dir/a/log.jsonl") lines, expected 40"
grep -q '"val_loss"' "$dir/a/log.jsonl" && grep -q '"tokens_per_s"' "$dir/a/log.jsonl" && grep -q '"grad_norm"' "$dir/a/log.jsonl" && ok || bad "log.jsonl fields"
[ -s "$dir/a/report.html" ] && grep -q '<svg' "$dir/a/report.html" && ok || bad "report.html"
expect_fail resume_other_shape "another shape" train --config "$dir/run.json" --dim 64 --resume

# the schedule: every logged lr against the SGDR formula
python3 - "$dir/a/log.jsonl" <<'EOF' && ok || bad "lr schedule"
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
lr, lo, warm, T0, Tm = 1e-2, 1e-3, 3, 5, 2
try:
    import torch
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=T0, T_mult=Tm, eta_min=lo)
    ref = []
    for s in range(len(rows)):
        if s < warm:
            ref.append(lr * (s + 1) / warm)
        else:
            ref.append(opt.param_groups[0]["lr"])
            opt.step(); sched.step()
    src = "torch CosineAnnealingWarmRestarts"
except ImportError:
    ref = []
    for s in range(len(rows)):
        if s < warm: ref.append(lr * (s + 1) / warm); continue
        u, Ti = s - warm, T0
        while u >= Ti: u -= Ti; Ti *= Tm
        ref.append(lo + (lr - lo) * (1 + math.cos(math.pi * u / Ti)) / 2)
    src = "the SGDR formula"
worst = max(abs(r["lr"] - x) / x for r, x in zip(rows, ref))
print(f"lr of {len(rows)} steps vs {src}: worst relative difference {worst:.2g}")
sys.exit(0 if worst < 1e-6 else 1)
EOF

# resume: 20 steps, then --resume to 40, must match the uninterrupted run bit for bit
sed "s#\"out\": \"$dir/a\"#\"out\": \"$dir/b\"#" "$dir/run.json" >"$dir/run_b.json"
"$seek" train --config "$dir/run_b.json" --steps 20 2>/dev/null && "$seek" train --config "$dir/run_b.json" --resume 2>"$dir/b.err" && ok || { bad "resume run"; tail -3 "$dir/b.err"; }
if cmp -s <(sed -n '21,40p' "$dir/a/log.jsonl" | grep -o '"loss": [0-9.]*') <(sed -n '21,40p' "$dir/b/log.jsonl" | grep -o '"loss": [0-9.]*'); then ok; else
  bad "resumed losses differ from the uninterrupted run"; diff <(grep -o '"loss": [0-9.]*' "$dir/a/log.jsonl") <(grep -o '"loss": [0-9.]*' "$dir/b/log.jsonl") | head; fi
[ "$(wc -l <"$dir/b/log.jsonl")" -eq 40 ] && ok || bad "resumed log.jsonl has $(wc -l <"$dir/b/log.jsonl") lines"

# Transformer-XL memory: trains, evaluates, resumes bit for bit (the memory is in the checkpoint),
# exports as arch seek that seek run loads; MLA with memory is refused
sed "s#\"out\": \"$dir/a\"#\"out\": \"$dir/xa\"#; s#\"sliding_window\": 0, ##; s#\"n_dense_lead\": 1,#\"n_dense_lead\": 1, \"xl_memory\": 12,#" \
  "$dir/run.json" >"$dir/run_xa.json"
grep -q '"xl_memory": 12' "$dir/run_xa.json" || bad "xl config not made"
sed "s#\"out\": \"$dir/xa\"#\"out\": \"$dir/xb\"#" "$dir/run_xa.json" >"$dir/run_xb.json"
"$seek" train --config "$dir/run_xa.json" --steps 30 2>"$dir/xa.err" && grep -q '"val_loss"' "$dir/xa/log.jsonl" && ok ||
  { bad "xl training run"; tail -3 "$dir/xa.err"; }
"$seek" train --config "$dir/run_xb.json" --steps 20 2>/dev/null && "$seek" train --config "$dir/run_xb.json" --steps 30 --resume 2>/dev/null &&
  cmp -s <(grep -o '"loss": [0-9.]*' "$dir/xa/log.jsonl") <(grep -o '"loss": [0-9.]*' "$dir/xb/log.jsonl") && ok ||
  bad "xl: resumed losses differ from the uninterrupted run"
"$seek" info "$dir/xa/model.gguf" 2>/dev/null | grep -q "architecture: *seek" &&
  "$seek" info "$dir/xa/model.gguf" 2>/dev/null | grep -q "Transformer-XL memory: a position sees its 16-token segment and the 12 positions" &&
  "$seek" run -m "$dir/xa/model.gguf" -p "To be" -n 8 --temp 0 >/dev/null 2>&1 &&
  ok || bad "xl export does not run"
expect_fail xl_mla "xl_memory needs attention" train --config "$dir/run_xa.json" --attention mla --out "$dir/x8"

# SIGKILL in the middle of writing the step-30 checkpoint: step 20's survives and resume uses it
sed "s#\"out\": \"$dir/a\"#\"out\": \"$dir/c\"#; s#\"ckpt_every\": 20#\"ckpt_every\": 10#" "$dir/run.json" >"$dir/run_c.json"
SEEK_TEST_KILL_IN_CKPT=30 bash -c '"$0" train --config "$1" 2>/dev/null' "$seek" "$dir/run_c.json" 2>/dev/null
rc=$?
[ $rc -eq 137 ] && ok || bad "the killed run exited $rc, expected 137 (SIGKILL)"
ls "$dir/c"/ckpt-00000020.gguf >/dev/null 2>&1 && ! ls "$dir/c"/ckpt-00000030.gguf >/dev/null 2>&1 && ok || bad "checkpoints after the kill: $(ls "$dir/c")"
"$seek" train --config "$dir/run_c.json" --resume 2>"$dir/c.err" && grep -q 'resuming from .*ckpt-00000020.gguf (step 20)' "$dir/c.err" && ok || { bad "resume after kill"; tail -3 "$dir/c.err"; }
cmp -s <(grep -o '"loss": [0-9.]*' "$dir/a/log.jsonl") <(grep -o '"loss": [0-9.]*' "$dir/c/log.jsonl") && ok || bad "losses after the killed checkpoint differ"

# bf16 and fp8 follow the fp32 loss curve (40 steps of the same batches; tolerances stated here:
# bf16 rounding keeps 8 mantissa bits, e4m3 3, so fp8 gets the looser bound)
for p in bf16 fp8; do
  "$seek" train --config "$dir/run.json" --out "$dir/$p" --precision $p --ckpt_every 0 2>/dev/null || bad "train --precision $p"
  python3 - "$dir/a/log.jsonl" "$dir/$p/log.jsonl" $p <<'EOF2' && ok || bad "$p loss curve"
import json, sys
a = [json.loads(l)["loss"] for l in open(sys.argv[1])]
b = [json.loads(l)["loss"] for l in open(sys.argv[2])]
rel = [abs(x - y) / x for x, y in zip(a, b)]
mean, worst = sum(rel) / len(rel), max(rel)
bound = {"bf16": 0.01, "fp8": 0.03}[sys.argv[3]]  # on the mean over the steps: one step of a tiny model is noisy
print(f"{sys.argv[3]}: loss within {mean:.2%} of fp32 on average over {len(b)} steps (worst step {worst:.2%}; bound {bound:.0%})")
sys.exit(0 if len(a) == len(b) and mean <= bound else 1)
EOF2
done

# pre-tokenized shards (llm.c's .bin layout) with the byte tokenizer
python3 - "$dir/corpus.txt" "$dir/shard.bin" <<'EOF2'
import struct, sys
data = open(sys.argv[1], "rb").read()[:20000]
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<256i", 20240520, 1, len(data), *([0] * 253)))
    f.write(struct.pack(f"<{len(data)}H", *data))
EOF2
"$seek" train --config "$dir/run.json" --train "$dir/shard.bin" --tokenizer byte --out "$dir/shard" --steps 3 2>"$dir/shard.err" &&
  grep -q '19000 training tokens' "$dir/shard.err" && ok || { bad "training on a .bin shard"; tail -3 "$dir/shard.err"; }
printf 'not a shard' >"$dir/bad.bin"
expect_fail bad_shard "is not a token shard" train --config "$dir/run.json" --train "$dir/bad.bin" --tokenizer byte --out "$dir/x8"

# the export runs, and grows
"$seek" run -m "$dir/a/model.gguf" -p "ROMEO:" -n 8 --temp 0 >"$dir/run.out" 2>"$dir/run.err" && grep -q 'generated 8 tokens' "$dir/run.err" &&
  grep -q '(deepseek,' "$dir/run.err" && ok || { bad "seek run on the export"; tail -3 "$dir/run.err"; }
"$seek" grow "$dir/a/model.gguf" "$dir/grown.gguf" --layers 4 2>"$dir/grow.err" && ok || { bad "grow --layers"; cat "$dir/grow.err"; }
"$seek" grow "$dir/grown.gguf" "$dir/split.gguf" --experts 16 2>"$dir/grow.err" && ok || { bad "grow --experts"; cat "$dir/grow.err"; }
"$seek" train --config "$dir/run.json" --out "$dir/d" --init "$dir/split.gguf" --steps 5 2>"$dir/d.err" &&
  grep -q 'shape comes from' "$dir/d.err" && ok || { bad "train --init grown"; tail -3 "$dir/d.err"; }
expect_fail grow_bad "must be a multiple" grow "$dir/a/model.gguf" "$dir/g2.gguf" --experts 12

echo "test_train_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
