#!/usr/bin/env bash
# seek serve end to end: starts two servers on the default model on free local ports: one with
# -np 4 -c 4096, one with -np 1 --max-queue 2 --api-key --alias (for the 401, alias and queue-full
# checks); waits for
# /health 200; runs tests/server/openai_e2e.py (the official `openai` client: chat, completions,
# streaming, stop, seed, logprobs, json_object, errors, batching invariance, prefix caching) and
# tests/server/robustness.py (bad requests, 10 MB bodies, 200 partial connections, dropped
# streams, /health throughout, threads/files/RSS back to idle); then stops both servers with
# SIGTERM, which must end them (exit 0) within a few seconds, with no sanitizer report in their
# logs. With SEEK_ASAN=1 (the sanitizer stage of `make test`) both scripts run their --short
# versions. Usage: test_server.sh path/to/seek   (from the repository root)
set -u
seek=$1
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }

if ! "$seek" serve --help >/dev/null 2>&1; then
  echo "FAIL: '$seek serve --help' does not work"
  exit 1
fi
model=$(./scripts/get-model.sh) || { echo "FAIL: scripts/get-model.sh"; exit 1; }
if ! python3 -c "import openai" 2>/dev/null; then
  echo "test_server: installing the openai package" >&2
  python3 -m pip install --quiet openai >/dev/null 2>&1 ||
    python3 -m pip install --quiet --break-system-packages openai >/dev/null 2>&1
  python3 -c "import openai" 2>/dev/null || { echo "FAIL: pip install openai"; exit 1; }
fi

short=() ready_s=60 stop_s=15
if [ "${SEEK_ASAN:-0}" = 1 ]; then short=(--short) ready_s=180 stop_s=60; fi
dir=$(mktemp -d)
s1= s2=
cleanup() {
  for p in $s1 $s2; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in $s1 $s2; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT

read -r p1 p2 < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
ports = [s.getsockname()[1] for s in ss]
for s in ss: s.close()  # closed before the servers bind them
print(*ports)')
key=seek-test-key-$$
"$seek" serve -m "$model" --host 127.0.0.1 --port "$p1" -np 4 -c 4096 >"$dir/s1.log" 2>&1 &
s1=$!
"$seek" serve -m "$model" --host 127.0.0.1 --port "$p2" -np 1 -c 1024 --max-queue 2 --api-key "$key" --alias seek-test >"$dir/s2.log" 2>&1 &
s2=$!

# /health: 200 when ready (503 while loading); gives up after $ready_s seconds or if the server exits
wait_ready() {
  python3 - "$1" "$2" "$ready_s" <<'PY'
import os, sys, time, urllib.request, urllib.error
port, pid, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
t0 = time.time()
seen = set()
while time.time() - t0 < limit:
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5) as r:
            if r.status == 200:
                print("ready in %.1f s (before: %s)" % (time.time() - t0, sorted(seen) or "nothing"))
                sys.exit(0)
            seen.add(r.status)
    except urllib.error.HTTPError as e:
        seen.add(e.code)
    except OSError:
        seen.add("refused")
    try:
        os.kill(pid, 0)
    except OSError:
        print("server exited")
        sys.exit(1)
    time.sleep(0.2)
print("not ready after %.0f s (seen: %s)" % (limit, sorted(map(str, seen))))
sys.exit(1)
PY
}
r1=$(wait_ready "$p1" "$s1") ; rc1=$?
r2=$(wait_ready "$p2" "$s2") ; rc2=$?
check "server 1 /health 200: $r1" '[ $rc1 -eq 0 ]'
check "server 2 (--api-key) /health 200: $r2" '[ $rc2 -eq 0 ]'
if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then
  echo "--- server 1 log:"; tail -30 "$dir/s1.log"; echo "--- server 2 log:"; tail -30 "$dir/s2.log"
  echo "test_server: $pass passed, $fail failed"
  exit 1
fi

t0=$SECONDS
python3 tests/server/openai_e2e.py --base-url "http://127.0.0.1:$p1/v1" --auth-url "http://127.0.0.1:$p2/v1" \
  --api-key "$key" --alias seek-test --queue-test --n-ctx 4096 ${short[@]+"${short[@]}"} --timeout 300 >"$dir/e2e.out" 2>&1
rc=$?
cat "$dir/e2e.out"
check "openai_e2e.py ($((SECONDS - t0)) s)" '[ $rc -eq 0 ]'

t0=$SECONDS
python3 tests/server/robustness.py --url "http://127.0.0.1:$p1" --pid "$s1" --slots 4 --n-ctx 4096 \
  ${short[@]+"${short[@]}"} >"$dir/rob.out" 2>&1
rc=$?
cat "$dir/rob.out"
check "robustness.py ($((SECONDS - t0)) s)" '[ $rc -eq 0 ]'

# SIGTERM ends both servers cleanly (under ASan this is where LeakSanitizer reports)
for name in s1 s2; do
  pid=${!name}
  check "$name alive before SIGTERM" 'kill -0 $pid 2>/dev/null'
  kill -TERM "$pid" 2>/dev/null
  t0=$SECONDS
  while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - t0)) -lt $stop_s ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    check "$name exits within ${stop_s} s of SIGTERM" false
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  else
    wait "$pid"
    st=$?
    check "$name exits 0 after SIGTERM (got $st)" '[ $st -eq 0 ]'
  fi
  eval "$name="
  check "$name log has no sanitizer report" '! grep -qE "ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:" "$dir/$name.log"'
done
if [ $fail -ne 0 ]; then
  echo "--- server 1 log (tail):"; tail -40 "$dir/s1.log"
  echo "--- server 2 log (tail):"; tail -20 "$dir/s2.log"
fi
echo "test_server: $pass passed, $fail failed"
[ $fail -eq 0 ]
