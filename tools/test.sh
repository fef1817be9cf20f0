#!/usr/bin/env bash
# README step 2 and CI: install what is missing, check the layers and the
# style (make check-layers, make lint), then run every test twice, plain and
# under AddressSanitizer + UndefinedBehaviorSanitizer. The last line is the
# total: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
tools/deps.sh --test || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
step() {
    echo "=== $*"
    "$@" 2>&1 | tee -a "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
step make -s -j2 all
step make -s check-layers
step make -s lint
step make -s check-unit
step make -s check-fuzz-replay
step make -s check-integration
step make -s -j2 SANITIZE=address,undefined all
step make -s SANITIZE=address,undefined check-unit
step make -s SANITIZE=address,undefined check-fuzz-replay
step make -s SANITIZE=address,undefined check-integration

# Totals from cmocka (tools/run-unit.sh's "unit: N passed, N failed"), the fuzz corpora
# ("fuzz replay: N passed, N failed", one per target) and pytest's summary line.
passed=0 failed=0
while IFS= read -r line; do
    if [[ $line =~ ^(unit|fuzz\ replay):\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[2])); failed=$((failed + BASH_REMATCH[3]))
    elif [[ $line =~ ^(=+ )?[0-9]+\ (passed|failed|errors?)[,\ ] ]]; then
        [[ $line =~ ([0-9]+)\ passed ]] && passed=$((passed + BASH_REMATCH[1]))
        [[ $line =~ ([0-9]+)\ failed ]] && failed=$((failed + BASH_REMATCH[1]))
        [[ $line =~ ([0-9]+)\ errors? ]] && failed=$((failed + BASH_REMATCH[1]))
    fi
done < "$log"
if [ "$passed" -eq 0 ]; then status=1; fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit $status
