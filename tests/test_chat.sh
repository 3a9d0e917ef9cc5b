#!/usr/bin/env bash
# seek chat through a pipe for three turns: with --verbose each turn reports how many tokens it
# processed; after the first turn that must be only the new turn (the previous answer's end
# marker + the new user message + the assistant prefix), far fewer than the conversation; and
# the answers must equal those of --no-cache, which reprocesses the whole conversation each turn
# (a fresh run over it), at temperature 0. Usage: test_chat.sh path/to/seek
set -u
seek=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'Hi! What is your name?\nName three fruits.\nWhich of them is yellow?\n' >"$dir/in"
"$seek" chat --temp 0 -n 40 --verbose <"$dir/in" >"$dir/cached" 2>"$dir/cached.err" || { echo "FAIL: chat exited $?"; cat "$dir/cached.err"; exit 1; }
"$seek" chat --temp 0 -n 40 --verbose --no-cache <"$dir/in" >"$dir/fresh" 2>"$dir/fresh.err" || { echo "FAIL: chat --no-cache exited $?"; exit 1; }
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
mapfile -t new < <(sed -n 's/.*processed \([0-9]*\) new tokens of \([0-9]*\).*/\1/p' "$dir/cached.err")
mapfile -t tot < <(sed -n 's/.*processed \([0-9]*\) new tokens of \([0-9]*\).*/\2/p' "$dir/cached.err")
mapfile -t fresh_new < <(sed -n 's/.*processed \([0-9]*\) new tokens of.*/\1/p' "$dir/fresh.err")
check "three turns reported" '[ ${#new[@]} -eq 3 ]'
check "turn 1 processes the whole prompt" '[ "${new[0]}" -eq "${tot[0]}" ]'
for t in 1 2; do
  # the new turn: "<|im_end|>\n<|im_start|>user\n" + message + "<|im_end|>\n<|im_start|>assistant\n"
  check "turn $((t + 1)) processes only the new turn (${new[$t]} of ${tot[$t]})" \
    '[ "${new[$t]}" -lt 30 ] && [ "${new[$t]}" -lt $((tot[t] - tot[t - 1])) ]'
  check "no-cache turn $((t + 1)) reprocesses everything" '[ "${fresh_new[$t]}" -eq "${tot[$t]}" ]'
done
check "answers equal the fresh runs" 'cmp -s "$dir/cached" "$dir/fresh"'
check "answers are not empty" '[ $(wc -l <"$dir/cached") -ge 3 ] && [ $(wc -c <"$dir/cached") -gt 30 ]'
# a small context: the oldest turn is dropped instead of failing, and every turn is answered
"$seek" chat --temp 0 -n 40 -c 160 --verbose <"$dir/in" >"$dir/small" 2>"$dir/small.err"
rc=$?
check "small context: exit 0 (got $rc)" '[ $rc -eq 0 ]'
check "small context: oldest turn dropped" 'grep -q "dropped the oldest turn" "$dir/small.err"'
check "small context: three turns processed" '[ $(grep -c "processed .* new tokens" "$dir/small.err") -eq 3 ]'
if [ $fail -ne 0 ]; then echo "--- cached:"; cat "$dir/cached"; echo "--- fresh:"; cat "$dir/fresh"; cat "$dir/cached.err"; fi
echo "test_chat: $pass passed, $fail failed"
[ $fail -eq 0 ]
