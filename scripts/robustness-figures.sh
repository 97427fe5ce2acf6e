#!/bin/bash
# Prints the BENCHMARKS.md section "Deadlines: a stopped libvirtd, a stopped QEMU", against
# the lab (tests/lab/libvirt-up.sh, run as root):
#   - the lab's libvirtd stopped (SIGSTOP) for one run: time to the LibreNMS error envelope,
#     default deadline;
#   - a VM whose QEMU is stopped (its monitor never answers): time of the first run (which
#     has to give up on a stats call) and of a later run, default deadline.
# Whatever it stops is continued on exit, however the script ends. Takes about 15 s. (The
# largest VM counts per SNMP reply are scripts/bench-librenms.py's section, the soak
# scripts/soak.sh's, fuzzing scripts/fuzz.sh's.) To write the section:
#   scripts/benchmarks_md.py write -- scripts/robustness-figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LAB=${HVMON_LAB:-/tmp/hvmon-lab}
if ! [ -f "$LAB/env" ] || ! [ -f "$LAB/libvirtd.pid" ]; then
    echo "robustness-figures: the lab is not up; run tests/lab/libvirt-up.sh first" >&2
    exit 1
fi
# shellcheck source=/dev/null
. "$LAB/env"
URI=$HVMON_QEMU_URI
BIN=target/release/hv_monitor
STUCK=hvmon-stuck
cargo build --release --locked -q

stopped=()
cleanup() {
    for pid in "${stopped[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
    virsh -c "$URI" destroy "$STUCK" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# One run of the LibreNMS job: "SECONDS exit CODE".
timed_run() {
    local start end code=0
    start=$(date +%s%N)
    "$BIN" --uri "$URI" -c >/dev/null 2>"$LAB/figures.err" || code=$?
    end=$(date +%s%N)
    awk -v ns=$((end - start)) -v c=$code 'BEGIN {printf "%.2f s, exit %d", ns / 1e9, c}'
}

cat <<EOF
## Deadlines: a stopped libvirtd, a stopped QEMU (\`scripts/robustness-figures.sh\`)

$(scripts/benchmarks_md.py produced-by scripts/robustness-figures.sh)

\`hv_monitor -c\` (release build, default deadline 5 s) against the lab's libvirtd
(\`$URI\`) while something it needs does not answer.

EOF
libvirtd=$(cat "$LAB/libvirtd.pid")
kill -STOP "$libvirtd"
stopped+=("$libvirtd")
echo "- libvirtd stopped (SIGSTOP): answered in $(timed_run) (the error document)."
kill -CONT "$libvirtd"

# A guest of its own, shaped like the tests' (tests/robustness.rs), so the lab's stay as
# they are.
truncate -s 1M "$LAB/$STUCK.raw"
cat > "$LAB/$STUCK.xml" <<XML
<domain type='qemu'><name>$STUCK</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
<disk type='file' device='disk'><driver name='qemu' type='raw'/>
<source file='$LAB/$STUCK.raw'/><target dev='vda' bus='virtio'/></disk></devices></domain>
XML
virsh -c "$URI" destroy "$STUCK" >/dev/null 2>&1 || true
virsh -c "$URI" create "$LAB/$STUCK.xml" >/dev/null
qemu=$(cat "/run/libvirt/qemu/$STUCK.pid")
kill -STOP "$qemu"
stopped+=("$qemu")
echo "- A VM whose QEMU is stopped (SIGSTOP): first run $(timed_run), later run $(timed_run);"
if grep -q "VM '$STUCK' is busy" "$LAB/figures.err"; then
    echo "  the VM is listed with its state, its disk stats left out as unknown."
else
    echo "  the VM was NOT marked busy: $(head -1 "$LAB/figures.err")"
fi
kill -CONT "$qemu"
virsh -c "$URI" destroy "$STUCK" >/dev/null
