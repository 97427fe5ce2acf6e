#!/bin/bash
# Starts virtlogd + libvirtd by hand (no systemd) and three real QEMU guests for the tests:
#   hvmon-running  running, with a raw disk, a CD-ROM image and a tap NIC
#   hvmon-paused   the same, paused
#   hvmon-off      shut off, autostart set, one snapshot (metadata only)
# Writes $HVMON_LAB/env with HVMON_QEMU_URI for the tests. Stop with libvirt-down.sh.
# TCG (type='qemu') so it runs wherever QEMU does. No OS: the BIOS network-boots (iPXE sends
# DHCP requests, real guest traffic), then reads the disk, and retries every minute.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB=${HVMON_LAB:-/tmp/hvmon-lab}
URI=qemu:///system
mkdir -p "$LAB/logs"
cd "$LAB"

"$HERE/libvirt-down.sh" >/dev/null 2>&1 || true

# Normally made by libvirt-daemon-system's postinst, which we skip.
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 || useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
# Debian's udev rule normally does this. With /dev/kvm present but closed to the qemu user,
# libvirt finds its capabilities cache stale and re-probes QEMU (minutes) on every define.
if [ -c /dev/kvm ]; then chgrp kvm /dev/kvm && chmod 660 /dev/kvm; fi

# Read-only clients (snmpd's user) get in without polkit, as on a host with polkitd.
cat > libvirtd.conf <<'CONF'
auth_unix_ro = "none"
unix_sock_ro_perms = "0777"
CONF
# Sockets left by a daemon that died would let the wait below pass before ours listens.
if ! pgrep -x libvirtd >/dev/null; then rm -f /run/libvirt/libvirt-sock /run/libvirt/libvirt-sock-ro /run/libvirt/libvirt-admin-sock; fi
if ! pgrep -x virtlogd >/dev/null; then rm -f /run/libvirt/virtlogd-sock /run/libvirt/virtlogd-admin-sock; fi
nohup /usr/sbin/virtlogd > logs/virtlogd.out 2>&1 & echo $! > virtlogd.pid
nohup /usr/sbin/libvirtd -f "$LAB/libvirtd.conf" > logs/libvirtd.out 2>&1 & echo $! > libvirtd.pid
for _ in $(seq 200); do
    [ -S /run/libvirt/libvirt-sock ] && [ -S /run/libvirt/virtlogd-sock ] && break
    sleep 0.1
done
# The first call waits for the QEMU capabilities probe (several seconds, once).
virsh -c "$URI" version >/dev/null
# A run that was killed before libvirt-down.sh (or one whose daemon had died) leaves its
# definitions in /etc/libvirt/qemu (and a test's transient network in /run/libvirt);
# libvirtd loads them again, and define would fail.
for d in $(virsh -c "$URI" list --all --name | grep '^hvmon-' || true); do
    virsh -c "$URI" destroy "$d" >/dev/null 2>&1 || true
    virsh -c "$URI" undefine "$d" --snapshots-metadata --managed-save >/dev/null
done
for n in $(virsh -c "$URI" net-list --name | grep '^hvmon-' || true); do
    virsh -c "$URI" net-destroy "$n" >/dev/null
done

define_guest() {
    local name=$1
    truncate -s 64M "$LAB/$name.raw"
    truncate -s 1M "$LAB/$name.iso"
    cat > "$LAB/$name.xml" <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>128</memory><currentMemory unit='MiB'>128</currentMemory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/><source file='$LAB/$name.raw'/><target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/><source file='$LAB/$name.iso'/><target dev='hdc' bus='ide'/><readonly/>
    </disk>
    <interface type='ethernet'>
      <mac address='52:54:00:4d:00:0$2'/>
      <target dev='hvmtap$2'/><model type='virtio'/>
    </interface>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
    <memballoon model='virtio'><stats period='5'/></memballoon>
  </devices>
</domain>
XML
    virsh -c "$URI" define "$LAB/$name.xml" >/dev/null
}

define_guest hvmon-running 1
define_guest hvmon-paused 2
define_guest hvmon-off 3
virsh -c "$URI" start hvmon-running >/dev/null
virsh -c "$URI" start hvmon-paused >/dev/null
virsh -c "$URI" suspend hvmon-paused >/dev/null
virsh -c "$URI" autostart hvmon-off >/dev/null
# sed reads to the end: head would leave virsh writing into a closed pipe (SIGPIPE, and
# pipefail ends the script).
uuid=$(virsh -c "$URI" domuuid hvmon-off | sed -n 1p)
cat > "$LAB/snap.xml" <<XML
<domainsnapshot><name>before-upgrade</name><state>shutoff</state><creationTime>1700000000</creationTime>
<memory snapshot='no'/>
<domain type='qemu'><name>hvmon-off</name><uuid>$uuid</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
</domainsnapshot>
XML
virsh -c "$URI" snapshot-create hvmon-off "$LAB/snap.xml" --redefine >/dev/null

# Tests expect the running guest to have sent packets (iPXE's DHCP) and read its disk.
for _ in $(seq 600); do
    stats=$(virsh -c "$URI" domstats hvmon-running --block --interface)
    grep -q 'net.0.tx.pkts=[1-9]' <<<"$stats" && grep -q 'block.0.rd.reqs=[1-9]' <<<"$stats" && break
    sleep 0.1
done

echo "HVMON_QEMU_URI=$URI" > "$LAB/env"
echo "libvirt-up: libvirtd $(cat libvirtd.pid), guests: $(virsh -c "$URI" list --all --name | tr '\n' ' ')"
