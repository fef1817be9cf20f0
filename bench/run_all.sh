#!/bin/sh
# Runs drover's benchmarks one after the other and prints their tables.
#   bench/run_all.sh [--quick]
# Needs `make all` first (build/drover, build/helpers/pinger, build/helpers/sleeper,
# bin/queue_worker, bin/job_worker, build/libdrover-worker.a, build/obj/heartbeat.o), wrk for
# http_load (apt-get install -y wrk; without it only http_load fails, with a message), and
# redis-server for jobs_throughput and redis_jobs (apt-get install -y redis-server; likewise).
# Exit status: 0 if every benchmark ran, else that of the last one that failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
status=0
for b in restart_latency respawn_throughput rss idle_wakeups config_check \
         recovery notify_ingest beat_cost scan_cost silence_latency http_load reload \
         output_flood jobs_throughput jobs_redelivery jobs_memory jobs_idle redis_jobs storm; do
    echo "=== $b $*"
    "$py" "$here/$b.py" "$@" || { status=$?; echo "=== $b failed with status $status"; }
    echo
done
exit $status
