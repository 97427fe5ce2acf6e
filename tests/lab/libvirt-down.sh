#!/bin/bash
# Stops what libvirt-up.sh started: the hvmon-* guests, then libvirtd and virtlogd by PID.
LAB=${HVMON_LAB:-/tmp/hvmon-lab}
URI=qemu:///system
if [ -S /run/libvirt/libvirt-sock ]; then
    for d in $(virsh -c "$URI" list --all --name 2>/dev/null | grep '^hvmon-'); do
        virsh -c "$URI" destroy "$d" >/dev/null 2>&1
        virsh -c "$URI" undefine "$d" --snapshots-metadata >/dev/null 2>&1
    done
    # A test's network (tests/guest_agent.rs, transient) that a killed run left.
    for n in $(virsh -c "$URI" net-list --name 2>/dev/null | grep '^hvmon-'); do
        virsh -c "$URI" net-destroy "$n" >/dev/null 2>&1
    done
fi
for p in libvirtd virtlogd; do
    if [ -f "$LAB/$p.pid" ]; then
        pid=$(cat "$LAB/$p.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
        rm -f "$LAB/$p.pid"
    fi
done
rm -f "$LAB/env"
# libvirtd leaves the (empty) LIBVIRT_* firewall chains it made for a test's network.
for cmd in iptables ip6tables; do
    command -v $cmd >/dev/null || continue
    for t in filter nat mangle; do
        $cmd -t $t -S 2>/dev/null | grep -E '^-A [A-Z]+ -j LIBVIRT_[A-Z]+$' | sed 's/^-A //' |
            while read -r chain _ target; do $cmd -t $t -D "$chain" -j "$target"; done
        for c in $($cmd -t $t -S 2>/dev/null | sed -n 's/^-N \(LIBVIRT_[A-Z]*\)$/\1/p'); do
            $cmd -t $t -F "$c" && $cmd -t $t -X "$c"
        done
    done
done
