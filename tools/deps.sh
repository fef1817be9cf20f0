#!/usr/bin/env bash
# Installs the Debian packages drover needs to build (and with --test, to
# run the test suite), if any is missing. Safe to run again: it does nothing
# when all are present.
#   tools/deps.sh           build: README's first command (tools/example.sh)
#   tools/deps.sh --test    build and test: tools/test.sh, CI
set -eu
packages=(gcc make pkg-config libc6-dev libjansson-dev libmicrohttpd-dev libhiredis-dev)
if [ "${1:-}" = "--test" ]; then
    # cmocka: unit tests; pytest: integration; redis-server, systemd (systemd-notify):
    # notify peers; prometheus: promtool and a real scrape; curl: the README's examples;
    # cppcheck, clang-format: make lint, which tools/test.sh runs; python3-yaml: the
    # Kubernetes manifests of docs/deploy.md (test_deploy_docs.py); util-linux (unshare,
    # nsenter, setpriv): drover as pid 1 (test_container_init.py) and as another user
    # (test_identity.py), with passwd (useradd, groupadd) for that test's users.
    packages+=(libcmocka-dev python3-pytest python3-yaml curl redis-server prometheus systemd
               util-linux passwd cppcheck clang-format)
elif [ $# -gt 0 ]; then
    echo "usage: tools/deps.sh [--test]" >&2
    exit 2
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "tools/deps.sh: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "tools/deps.sh: need root to install packages (try: sudo $0)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
