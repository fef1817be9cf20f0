#!/usr/bin/env bash
# Runs each cmocka unit-test binary under a timeout and prints cmocka's own
# summaries plus one closing line "unit: N passed, N failed".
set -u
passed=0 failed=0 ran=0
for bin in "$@"; do
    out=$(timeout 60 "$bin" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -1)
    p=${p:-0}; f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$bin: exited with status $rc (timeout or crash)"; f=1
    fi
    passed=$((passed + p)); failed=$((failed + f)); ran=$((ran + 1))
done
echo "unit: $passed passed, $failed failed"
[ "$ran" -gt 0 ] && [ "$passed" -gt 0 ] && [ "$failed" -eq 0 ]
