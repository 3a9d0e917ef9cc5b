# Shared by the CLI bad-input tests (sourced, not run): expect NAME PATTERN CMD... runs CMD and
# counts a pass when it exits non-zero (not by timeout), its stderr matches PATTERN in exactly one
# line (a "seek: loaded" line aside) and shows no sanitizer report. Needs $dir; sets pass, fail,
# and expect_rc (the exit status, for tests that want a particular one).
pass=0 fail=0
expect() {
  local name=$1 pattern=$2
  shift 2
  timeout 120 "$@" >"$dir/out" 2>"$dir/err" </dev/null
  local rc=$?
  expect_rc=$rc
  local lines
  lines=$(grep -vc '^seek: loaded' "$dir/err")
  if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q -- "$pattern" "$dir/err" && [ "$lines" -eq 1 ] &&
     ! grep -q 'Sanitizer\|runtime error' "$dir/err"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL $name: rc=$rc, stderr:"
    sed 's/^/    /' "$dir/err" | head -20
  fi
}
