# Runs inside the lab's Linux guest (busybox sh; tests/guest_agent.rs starts it through
# guest-exec): replaces the guest's qemu-ga with an agent whose every answer is hostile, as
# a guest's owner could make it: 1 MiB strings, markup and Xymon colour markers after line
# breaks in every name, 200 file systems (more than hv_monitor keeps), 99 % full, and
# "addresses" that are not addresses beside one that is (192.0.2.77). guest-sync and
# guest-ping are answered as qemu-ga does: libvirt needs them to talk at all.
# Argument: the MAC of the guest's NIC, so that libvirt's NIC and the guest's match.
exec </dev/null >/dev/null 2>&1
b=busybox
mac=$1
# The agent's port: no udev here, so no /dev/virtio-ports link; the guest's only port.
for port in /dev/vport*p1; do break; done
d=/run/hostile
mkdir -p $d

# The answers, written once: a JSON "\n" is a line break in the string libvirt passes on.
{
    printf '{"return": {"host-name": "'
    $b head -c 1048576 /dev/zero | $b tr '\0' A
    printf '<script>alert(1)</script>\\n&red injected host"}}\n'
} > $d/host-name
printf '{"return": {"name": "Evil", "pretty-name": "<b>OS</b>\\n&red injected os\\n@@", "kernel-release": "x", "id": "evil"}}\n' > $d/osinfo
{
    printf '{"return": ['
    i=0
    while [ $i -lt 200 ]; do
        [ $i -gt 0 ] && printf ','
        printf '{"name": "vda%s", "mountpoint": "/m%s/<img src=x>\\n&red injected fs", "type": "ext4\\n&red", "used-bytes": 99, "total-bytes": 100, "disk": []}' $i $i
        i=$((i + 1))
    done
    printf ']}\n'
} > $d/fsinfo
printf '{"return": [{"name": "eth0<script>", "hardware-address": "%s", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "999.1.1.1", "prefix": 24}, {"ip-address-type": "ipv4", "ip-address": "10.0.0.1; reboot", "prefix": 8}, {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}, {"ip-address-type": "ipv6", "ip-address": "fe80::1", "prefix": 64}, {"ip-address-type": "ipv4", "ip-address": "192.0.2.77", "prefix": 24}]}]}\n' "$mac" > $d/interfaces

# Busybox has no pidof: qemu-ga found in /proc. This shell, its child, outlives it.
for p in /proc/[0-9]*; do
    read n < $p/comm
    [ "$n" = qemu-ga ] && kill -9 ${p#/proc/} && agent=$p
done
# Its port closed (nothing left in its fd directory; init does not reap it), then opened
# here, once, for good: libvirt reconnects to the channel when it sees the guest open it.
while [ -n "$(ls $agent/fd 2>/dev/null)" ]; do sleep 0.2; done
exec 3<>$port
# A read answers end of file while libvirt is not connected to the host side: wait, read on.
while :; do
    while IFS= read -r line <&3; do
        case $line in
            *guest-sync*)
                id=$(echo "$line" | sed 's/.*"id": *\([0-9]*\).*/\1/')
                printf '{"return": %s}\n' "$id" >&3 ;;
            *guest-ping*) printf '{"return": {}}\n' >&3 ;;
            *guest-get-host-name*) cat $d/host-name >&3 ;;
            *guest-get-osinfo*) cat $d/osinfo >&3 ;;
            *guest-get-fsinfo*) cat $d/fsinfo >&3 ;;
            *guest-network-get-interfaces*) cat $d/interfaces >&3 ;;
            *) printf '{"error": {"class": "CommandNotFound", "desc": "hostile agent"}}\n' >&3 ;;
        esac
    done
    sleep 0.2
done
