#!/bin/bash
# A real Linux guest on the lab's libvirtd (tests/lab/libvirt-up.sh), from Debian packages
# only: Debian's kernel booted directly (no bootloader, no disk image to download), an
# initramfs with busybox-static, the virtio modules and qemu-guest-agent. Inside, the guest:
#   - loads virtio_blk/net/balloon/console, so libvirt gets balloon stats from the guest;
#   - runs qemu-ga on the org.qemu.guest_agent.0 channel (`virsh qemu-agent-command`,
#     `guest-exec` included);
#   - gives eth0 the link-local 169.254.77.N/16 (never routed off a link), sends nothing;
#   - formats /dev/vda as ext2, mounts it, and writes, syncs and reads a few MiB every few
#     seconds: real disk traffic from a guest.
# DISK2=FILE adds FILE as a second disk, vdb, left alone by the guest: on a small tmpfs, a
# `guest-exec` of dd onto /dev/vdb fills it and QEMU pauses the VM on an I/O error
# (tests/real_guest.rs does that).
#
# Usage: [NAME=hvmon-linux] [GUEST_DIR=DIR] [DISK2=FILE] linux-guest.sh [start|stop]
#   NAME       the domain (default hvmon-linux); stop destroys and undefines it
#   GUEST_DIR  where its disk, XML and console log go (default $HVMON_LAB)
# The kernel and initramfs are built once into $HVMON_LAB/linux-guest (a minute, the first
# time: apt-get download, nothing installed on the host) and shared by every guest.
# TCG (boots in ~10 s here); KVM=1 for KVM. Debian 12: kernel 6.1, qemu 7.2, libvirt 9.0.
set -euo pipefail
LAB=${HVMON_LAB:-/tmp/hvmon-lab}
URI=${HVMON_QEMU_URI:-qemu:///system}
NAME=${NAME:-hvmon-linux}
DIR=${GUEST_DIR:-$LAB}
# N (10-209) numbers the tap, MAC and address: GUEST_N, else from the name.
N=${GUEST_N:-$(( $(printf %s "$NAME" | cksum | cut -d" " -f1) % 200 + 10 ))}
G=$LAB/linux-guest
mkdir -p "$G" "$DIR/logs"

if [ "${1:-start}" = stop ]; then
    virsh -q -c "$URI" destroy "$NAME" >/dev/null 2>&1 || true
    virsh -q -c "$URI" undefine "$NAME" >/dev/null 2>&1 || true
    rm -f "$DIR/$NAME.disk" "$DIR/$NAME.xml" "$DIR/logs/$NAME.console"
    exit 0
fi

# 1. The kernel and initramfs, once; the lock keeps two guests starting at once from
#    building them together.
build() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    command -v cpio >/dev/null || apt-get install -y -qq --no-install-recommends cpio >/dev/null
    local kpkg kver R M order src m lib
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    rm -rf "$G/pkgs" "$G/root" "$G/initrd" "$G/initrd.img" "$G/vmlinuz"
    mkdir -p "$G/pkgs" "$G/root" "$G/initrd"
    (cd "$G/pkgs" && apt-get download -qq "$kpkg" busybox-static qemu-guest-agent)
    for d in "$G"/pkgs/*.deb; do dpkg-deb -x "$d" "$G/root"; done
    kver=$(ls "$G/root/lib/modules")
    R=$G/initrd
    mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,run,tmp,mnt,var/run,lib/modules,lib64,usr/lib/x86_64-linux-gnu}
    cp "$G/root/bin/busybox" "$R/bin/busybox"
    for a in sh mount umount insmod ip ifconfig sleep dd sync cat echo mkdir mke2fs mkfs.ext2 seq ls rm sed; do
        ln -sf busybox "$R/bin/$a"
    done
    cp "$G/root/usr/sbin/qemu-ga" "$R/bin/qemu-ga"
    # qemu-ga is dynamically linked: its libraries come from the host (the same Debian release).
    for lib in $(ldd "$G/root/usr/sbin/qemu-ga" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
        cp -L "$lib" "$R/usr/lib/x86_64-linux-gnu/"
    done
    cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/"
    ln -sfn ../usr/lib/x86_64-linux-gnu "$R/lib/x86_64-linux-gnu"
    M=$G/root/lib/modules/$kver/kernel
    order="drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko drivers/virtio/virtio_pci_legacy_dev.ko
      drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci.ko drivers/block/virtio_blk.ko
      net/core/failover.ko drivers/net/net_failover.ko drivers/net/virtio_net.ko
      drivers/virtio/virtio_balloon.ko drivers/char/virtio_console.ko
      crypto/crc32c_generic.ko lib/libcrc32c.ko lib/crc16.ko fs/mbcache.ko fs/jbd2/jbd2.ko fs/ext4/ext4.ko"
    : > "$R/modules.order"
    for m in $order; do
        src=$M/$m
        [ -f "$src" ] || src=$(ls "$M/$m".* 2>/dev/null | head -1) || true
        [ -n "$src" ] && [ -f "$src" ] || continue
        case "$src" in
            *.xz) xz -dc "$src" > "$R/lib/modules/$(basename "$m")" ;;
            *.zst) zstd -qdc "$src" > "$R/lib/modules/$(basename "$m")" ;;
            *) cp "$src" "$R/lib/modules/" ;;
        esac
        basename "$m" >> "$R/modules.order"
    done
    cat > "$R/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /lib/modules/$m 2>/dev/null; done
sleep 1
ip link set lo up; ip link set eth0 up
ip addr add 169.254.77.$(sed -n 's/.*lgn=\([0-9]*\).*/\1/p' /proc/cmdline)/16 dev eth0
port=$(ls /dev/virtio-ports/org.qemu.guest_agent.0 2>/dev/null || ls /dev/vport*p1 | head -1)
/bin/qemu-ga -m virtio-serial -p "$port" -d -t /run
mke2fs -q /dev/vda && mount -t ext2 /dev/vda /mnt
echo "linux-guest: up, agent on $port"
while true; do
  dd if=/dev/urandom of=/mnt/work bs=64k count=32 2>/dev/null; sync
  dd if=/mnt/work of=/dev/null bs=64k 2>/dev/null
  echo 3 > /proc/sys/vm/drop_caches
  sleep 3
done
INIT
    chmod 755 "$R/init"
    (cd "$R" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$G/initrd.img.tmp")
    cp "$G"/root/boot/vmlinuz-* "$G/vmlinuz"
    mv "$G/initrd.img.tmp" "$G/initrd.img"
    rm -rf "$G/pkgs" "$G/root" "$G/initrd"
}
exec 9> "$G/.build.lock"
flock 9
[ -f "$G/initrd.img" ] && [ -f "$G/vmlinuz" ] || build
flock -u 9

# 2. The domain.
# TCG by default: KVM accepts the guest but it never prints a line here (nested
# virtualisation). KVM=1 tries it, with the host's CPU model (qemu64 asks for features it lacks).
TYPE=qemu CPU=""
[ "${KVM:-0}" = 1 ] && TYPE=kvm CPU="<cpu mode='host-passthrough'/>"
truncate -s 64M "$DIR/$NAME.disk"
DISK2XML=""
[ -n "${DISK2:-}" ] && DISK2XML="
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$DISK2'/><target dev='vdb' bus='virtio'/></disk>"
# QEMU runs as libvirt-qemu: it must reach the kernel and initramfs.
chmod 755 "$LAB" "$G" "$DIR"
chmod 644 "$G/vmlinuz" "$G/initrd.img"
cat > "$DIR/$NAME.xml" <<XML
<domain type='$TYPE'>
  <name>$NAME</name>
  <memory unit='MiB'>256</memory><currentMemory unit='MiB'>256</currentMemory>
  <vcpu>1</vcpu>$CPU
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$G/vmlinuz</kernel><initrd>$G/initrd.img</initrd>
    <cmdline>console=ttyS0 lgn=$N</cmdline></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$DIR/$NAME.disk'/><target dev='vda' bus='virtio'/></disk>$DISK2XML
    <interface type='ethernet'><mac address='52:54:00:77:00:$(printf %02x "$N")'/><target dev='lgtap$N'/><model type='virtio'/><rom enabled='no'/></interface>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <memballoon model='virtio'><stats period='2'/></memballoon>
    <serial type='file'><source path='$DIR/logs/$NAME.console'/></serial><console type='file'><source path='$DIR/logs/$NAME.console'/></console>
  </devices>
</domain>
XML
virsh -q -c "$URI" define "$DIR/$NAME.xml" >/dev/null
virsh -q -c "$URI" start "$NAME" >/dev/null
# Bounded: a TCG boot on a loaded host takes longer than the ~10 s of an idle one.
for _ in $(seq 240); do
    virsh -q -c "$URI" qemu-agent-command "$NAME" '{"execute":"guest-ping"}' >/dev/null 2>&1 && break
    sleep 0.5
done
virsh -q -c "$URI" qemu-agent-command "$NAME" '{"execute":"guest-ping"}' >/dev/null 2>&1 \
    || { echo "linux-guest: $NAME: no guest agent answer (see $DIR/logs/$NAME.console)" >&2; exit 1; }
echo "linux-guest: $NAME running ($TYPE), guest agent answers; eth0 169.254.77.$N"
