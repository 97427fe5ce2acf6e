#!/bin/bash
# Stops what libvirt-up.sh started: the hvmon-* guests, then libvirtd and virtlogd by PID.
LAB=${HVMON_LAB:-/tmp/hvmon-lab}
URI=qemu:///system
if [ -S /run/libvirt/libvirt-sock ]; then
    for d in $(virsh -c "$URI" list --all --name 2>/dev/null | grep '^hvmon-'); do
        virsh -c "$URI" destroy "$d" >/dev/null 2>&1
        virsh -c "$URI" undefine "$d" --snapshots-metadata >/dev/null 2>&1
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
