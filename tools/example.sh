#!/usr/bin/env bash
# README step 1: install what is missing, build, and run the time-service
# example pool in the foreground (Ctrl-C stops it cleanly). Extra arguments
# are passed to drover.
set -eu
cd "$(dirname "$0")/.."
tools/deps.sh
make -s -j2 all
echo "drover: starting the time-service pool; try: curl 127.0.0.1:9100/  (Ctrl-C to stop)" >&2
exec build/drover --port-range=9100-9199 "$@" < examples/time-service.json
