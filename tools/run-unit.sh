#!/usr/bin/env bash
# Runs each cmocka unit-test binary under a timeout and prints cmocka's own
# summaries plus one closing line "unit: N passed, N failed".
#
# The timeout only stops a binary that hangs: the slowest one (test_cli) takes
# about 0.5 s under ASan+UBSan, 1 s with both cores busy; UNIT_TIMEOUT (60 s
# by default) is far beyond 10x that. A binary that did not finish is a
# failure, and the line says which one and after how long.
set -u
limit=${UNIT_TIMEOUT:-60}
passed=0 failed=0 ran=0
for bin in "$@"; do
    out=$(timeout --kill-after=10 "$limit" "$bin" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -1)
    p=${p:-0}; f=${f:-0}
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        # 124: timeout's TERM ended it; 137: it needed the KILL 10 s later (or was killed so).
        echo "$bin: did not finish within $limit s: stopped by timeout (status $rc); the last [ RUN ] line above is the test that hung"
        f=$((f + 1))
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$bin: exited with status $rc (a crash, or a failure outside the tests)"; f=1
    fi
    passed=$((passed + p)); failed=$((failed + f)); ran=$((ran + 1))
done
echo "unit: $passed passed, $failed failed"
[ "$ran" -gt 0 ] && [ "$passed" -gt 0 ] && [ "$failed" -eq 0 ]
