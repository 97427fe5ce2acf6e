#!/bin/bash
# Extra real QEMU guests for large-host tests and benchmarks, on the lab's libvirtd:
#   extra-guests.sh start N   starts hvmon-extra-001..N (those not running yet)
#   extra-guests.sh trim N    destroys hvmon-extra-NNN numbered above N (back to a shared count)
#   extra-guests.sh stop      destroys every hvmon-extra-* guest and removes its files
# Cheap: transient, TCG, 64 MiB, one 1 MiB raw disk, no NIC, started paused (no CPU used,
# ~10 MB RSS each). Only hvmon-extra-* guests are touched, never the shared hvmon-* ones.
set -euo pipefail
LAB=${HVMON_LAB:-/tmp/hvmon-lab}
URI=${HVMON_QEMU_URI:-qemu:///system}
DIR=$LAB/extra
PARALLEL=4

start_one() {
    local name=$1
    truncate -s 1M "$DIR/$name.raw"
    cat > "$DIR/$name.xml" <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/><source file='$DIR/$name.raw'/><target dev='vda' bus='virtio'/>
    </disk>
    <memballoon model='none'/>
  </devices>
</domain>
XML
    virsh -q -c "$URI" create --paused "$DIR/$name.xml" >/dev/null
}

extra_names() {
    virsh -q -c "$URI" list --all --name | grep -E '^hvmon-extra-[0-9]{3}$' || true
}

case ${1:-} in
start)
    count=${2:?usage: $0 start N}
    [[ $count =~ ^[0-9]+$ && $count -le 999 ]] || { echo "N must be 0..999" >&2; exit 2; }
    mkdir -p "$DIR"
    running=$(extra_names)
    export -f start_one
    export DIR URI
    for i in $(seq 1 "$count"); do
        name=$(printf 'hvmon-extra-%03d' "$i")
        grep -qx "$name" <<<"$running" || echo "$name"
    done | xargs -r -P "$PARALLEL" -I{} bash -c 'start_one "$1"' _ {}
    echo "extra-guests: $(extra_names | wc -l) hvmon-extra-* guests running (paused)"
    ;;
trim)
    keep=${2:?usage: $0 trim N}
    [[ $keep =~ ^[0-9]+$ ]] || { echo "N must be a number" >&2; exit 2; }
    extra_names | while read -r name; do
        if [ "$((10#${name#hvmon-extra-}))" -gt "$keep" ]; then echo "$name"; fi
    done | xargs -r -P "$PARALLEL" -I{} virsh -q -c "$URI" destroy {} >/dev/null
    for f in "$DIR"/hvmon-extra-*.raw "$DIR"/hvmon-extra-*.xml; do
        [ -e "$f" ] || continue
        n=$(basename "$f"); n=${n%.*}
        if [ "$((10#${n#hvmon-extra-}))" -gt "$keep" ]; then rm -f "$f"; fi
    done
    echo "extra-guests: $(extra_names | wc -l) hvmon-extra-* guests running (paused)"
    ;;
stop)
    extra_names | xargs -r -P "$PARALLEL" -I{} virsh -q -c "$URI" destroy {} >/dev/null
    rm -rf "$DIR"
    ;;
*)
    echo "usage: $0 start N | trim N | stop" >&2
    exit 2
    ;;
esac
