#!/usr/bin/env bash
# seek tokenizer-train end to end: trains on a slice of tinyshakespeare (or, without it, on seek's
# own sources), checks the summary (vocabulary size, tokens per byte falling as the vocabulary
# grows), the same file with 1 and 4 threads, the speed on the whole text, then Hugging Face
# `tokenizers` on the result (tests/ref/check_bpe_train.py: same ids on held-out text, same merges
# as its trainer), then bad input: one clear line on stderr, exit 1, no output file left behind.
# Usage: test_tokenizer_train.sh path/to/seek
set -u
seek=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
source tests/expect.sh
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

text=
for t in "${SEEK_TRAIN_TEXT:-}" ../shared/data/tinyshakespeare.txt /work/shared/data/tinyshakespeare.txt; do
  if [ -n "$t" ] && [ -s "$t" ]; then text=$t; break; fi
done
if [ -z "$text" ]; then
  echo "note: tinyshakespeare.txt not found; training on seek's own sources"
  text=$dir/corpus.txt
  cat src/*/*.c src/*/*.h >"$text"
fi
head -c 300000 "$text" >"$dir/train.txt"
{ tail -c +300001 "$text" | head -c 100000
  printf '\nÜnïcödé naïve café — “quoted” 日本語のテキスト, Ελληνικά, русский текст, emoji 🙂👍🏽\n'
  printf 'numbers 1234567890 3.14159, tabs\tand  spaces   \n\n'; } >"$dir/held.txt"

# tokens per byte from the summary line
tpb() { sed -n 's/.*: \([0-9.]*\) tokens per byte.*/\1/p' "$1"; }

prev=9
for n in 512 1024 4096; do
  if "$seek" tokenizer-train "$dir/train.txt" --vocab $n -o "$dir/tok$n.gguf" -t 2 2>"$dir/log$n" &&
     grep -q "wrote $dir/tok$n.gguf: $n tokens" "$dir/log$n"; then ok; else bad "train --vocab $n:"; cat "$dir/log$n"; fi
  r=$(tpb "$dir/log$n")
  if [ -n "$r" ] && awk "BEGIN{exit !($r < $prev)}"; then ok; else bad "vocab $n: $r tokens/byte, not below $prev"; fi
  prev=${r:-9}
done
echo "tokens/byte on the training text: $(for n in 512 1024 4096; do printf '%s=%s ' $n "$(tpb "$dir/log$n")"; done)"

# threads do not change the result; the whole text trains in a few seconds
"$seek" tokenizer-train "$dir/train.txt" --vocab 1024 -o "$dir/t1.gguf" -t 1 2>/dev/null
"$seek" tokenizer-train "$dir/train.txt" --vocab 1024 -o "$dir/t4.gguf" -t 4 2>/dev/null
if cmp -s "$dir/t1.gguf" "$dir/t4.gguf" && cmp -s "$dir/t1.gguf" "$dir/tok1024.gguf"; then ok; else bad "-t 1 and -t 4 differ"; fi
start=$(date +%s.%N)
"$seek" tokenizer-train "$text" --vocab 4096 -o "$dir/full.gguf" 2>"$dir/logfull" || bad "train on $text"
secs=$(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $start}")
echo "vocab 4096 on $(wc -c <"$text") bytes: ${secs} s; $(tail -n 1 "$dir/logfull" | sed 's/^seek tokenizer-train: //')"
if awk "BEGIN{exit !($secs < 10)}"; then ok; else bad "training took $secs s"; fi

# seek's ids for the held-out text (--encode), compared with Hugging Face's
"$seek" tokenizer-train --encode "$dir/tok1024.gguf" "$dir/held.txt" >"$dir/ids.txt" 2>"$dir/err" || bad "--encode: $(cat "$dir/err")"
if [ "$(wc -w <"$dir/ids.txt")" -gt 1000 ]; then ok; else bad "--encode printed $(wc -w <"$dir/ids.txt") ids"; fi
if python3 -c 'import tokenizers, gguf' 2>/dev/null; then
  if python3 tests/ref/check_bpe_train.py "$dir/tok1024.gguf" "$dir/train.txt" "$dir/held.txt" "$dir/ids.txt" 1024; then ok
  else bad "check_bpe_train.py (vocab 1024)"; fi
  "$seek" tokenizer-train --encode "$dir/tok4096.gguf" "$dir/held.txt" >"$dir/ids4096.txt" 2>/dev/null
  if python3 tests/ref/check_bpe_train.py "$dir/tok4096.gguf" "$dir/train.txt" "$dir/held.txt" "$dir/ids4096.txt" 4096; then ok
  else bad "check_bpe_train.py (vocab 4096)"; fi
else
  echo "SKIP the Hugging Face comparison: python3 cannot import tokenizers and gguf"
fi

# bad input: one line on stderr (expect.sh), status 1, nothing written
: >"$dir/empty.txt"
out=$dir/bad.gguf
expect_bad() {
  local name=$1 pattern=$2
  shift 2
  expect "$name" "$pattern" "$@"
  timeout 120 "$@" >/dev/null 2>&1 </dev/null
  local rc=$?
  if [ $rc -ne 1 ]; then bad "$name: exit status $rc, want 1"; fi
  if [ -e "$out" ] || [ -e "$out.tmp" ]; then bad "$name: left $out behind"; rm -f "$out" "$out.tmp"; fi
}
for c in \
  "missing_file|cannot open|$dir/nope.txt --vocab 300 -o $out" \
  "directory_input|not a regular file|$dir --vocab 300 -o $out" \
  "empty_file|empty|$dir/empty.txt --vocab 300 -o $out" \
  "vocab_256|from 257 to 1000000|$dir/train.txt --vocab 256 -o $out" \
  "vocab_huge|from 257 to 1000000|$dir/train.txt --vocab 1000001 -o $out" \
  "vocab_text|expects an integer|$dir/train.txt --vocab many -o $out" \
  "no_output|no output file|$dir/train.txt --vocab 300" \
  "no_input|no training text|--vocab 300 -o $out" \
  "output_dir_missing|no directory|$dir/train.txt --vocab 300 -o $dir/no/such/dir/x.gguf" \
  "output_is_dir|is a directory|$dir/train.txt --vocab 300 -o $dir" \
  "bad_flag|unknown option '--bogus'|$dir/train.txt --bogus -o $out" \
  "encode_missing|cannot open|--encode $dir/nope.gguf $dir/held.txt"; do
  IFS='|' read -r name pattern args <<<"$c"
  # shellcheck disable=SC2086
  expect_bad "$name" "$pattern" "$seek" tokenizer-train $args
done
if [ -e "$dir/no" ]; then bad "output_dir_missing created a directory"; fi

echo "test_tokenizer_train: $pass passed, $fail failed"
[ $fail -eq 0 ]
