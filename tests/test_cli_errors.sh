#!/usr/bin/env bash
# Bad input through the CLI: each case must exit non-zero with exactly one clear line on stderr
# naming the problem, never crash or hang (make test runs this again under ASan/UBSan, where a
# leak or a bad read also fails). Usage: test_cli_errors.sh path/to/seek
set -u
seek=$1
model=$(./scripts/get-model.sh 2>/dev/null)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 tests/ref/make_bad_ggufs.py "$model" "$dir"
source tests/expect.sh

expect truncated 'runs past the end\|truncated' "$seek" run -m "$dir/truncated.gguf" -p hi
expect bad_magic 'bad magic' "$seek" run -m "$dir/bad_magic.gguf" -p hi
expect huge_count 'tensor count' "$seek" run -m "$dir/huge_tensor_count.gguf" -p hi
expect data_past_end 'past the end of the file' "$seek" run -m "$dir/data_past_end.gguf" -p hi
expect unknown_type 'unknown type 99' "$seek" info "$dir/unknown_tensor_type.gguf"
expect unknown_arch "unknown architecture 'mamba'" "$seek" run -m "$dir/unknown_arch.gguf" -p hi
expect missing_key "llama.block_count" "$seek" run -m "$dir/missing_key.gguf" -p hi
expect empty 'empty' "$seek" run -m "$dir/empty.gguf" -p hi
expect directory 'not a regular file' "$seek" run -m "$dir" -p hi
expect missing_file 'cannot open' "$seek" run -m "$dir/nope.gguf" -p hi
long=$(python3 -c 'print("hello " * 400)')
expect prompt_too_long 'longer than the context' "$seek" run -m "$model" -c 64 -p "$long"
expect bad_flag "unknown option '--bogus'" "$seek" run -m "$model" --bogus
expect bad_number "expects an integer" "$seek" run -m "$model" -n abc -p hi
expect no_prompt "no prompt" "$seek" run -m "$model"
expect bad_cache_type "cache type 'q8_0' is not supported" "$seek" run -m "$model" -ctk q8_0 -p hi
echo "test_cli_errors: $pass passed, $fail failed"
[ $fail -eq 0 ]
