#!/bin/bash
# Builds hv_monitor and runs the LibreNMS job on libvirt's embedded test driver
# (test:///default: one running VM inside libvirt.so, no daemon needed).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in pkg-config libvirt-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cargo build --release --locked
./target/release/hv_monitor --uri test:///default "$@"
