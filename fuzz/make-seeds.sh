#!/usr/bin/env bash
# Writes the seed inputs of every fuzz target into fuzz/seeds/TARGET/:
# real output of hv_monitor against the libvirt test driver, the CBSD fixtures of
# tests/fixtures/cbsd, this machine's /proc files, and hand-picked hostile names.
# Seeds only start the fuzzer off: scripts/fuzz.sh grows fuzz/corpus/TARGET/ from them.
# Run this again when an input format changes. Needs virsh and Linux /proc.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=fuzz/seeds
bin=${HV_MONITOR:-target/debug/hv_monitor}
[ -x "$bin" ] || cargo build --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

seed() { # TARGET NAME: stdin becomes seeds/TARGET/NAME
    mkdir -p "$seeds/$1"
    cat >"$seeds/$1/$2"
}

# VM names that have broken monitoring tools: separators NCV and SPLITNCV rewrite, markup,
# our own markers, path tricks, look-alikes of hashed keys, non-ASCII, a very long name.
names=(
    "web01" "web-01" "web_01" "web.01" "web 01" "Web01" "_web01" "web01_" "web__01"
    "a:b=c" "vm_x_cpu : 99" "<!-- ncv_skipend -->" "<!-- hvmon end -->" "&red x" "@@"
    "../../etc/passwd" "a/b" 'quote"back\slash' "50%" "x_h0123456789abcdef"
    "h0123456789abcdef" "ünïcødé" "名前"
    "a_very_long_name_that_goes_on_and_on_and_on_well_past_the_forty_eight_limit"
)
{
    printf '<node>\n'
    for i in "${!names[@]}"; do
        # libvirt refuses '/' in a name.
        [[ ${names[$i]} == */* ]] && continue
        name=$(printf %s "${names[$i]}" | sed -e 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g')
        state=$(((i % 3 == 2) ? 5 : 1))
        printf "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\
<name>%s</name><memory unit='KiB'>524288</memory><vcpu>2</vcpu><os><type>hvm</type></os>\
<devices><disk type='file' device='disk'><source file='/v/d%d.qcow2'/><target dev='vda' bus='virtio'/></disk>\
<interface type='network'><mac address='52:54:00:00:00:%02x'/><source network='default'/><target dev='vnet%d'/></interface>\
<graphics type='vnc' port='%d' listen='127.0.0.1'/></devices><test:runstate>%d</test:runstate></domain>\n" \
            "$name" "$i" "$i" "$i" $((5900 + i)) "$state"
    done
    printf "<network><name>default</name><bridge name='virbr0'/><forward/><ip address='192.168.122.1' netmask='255.255.255.0'/></network>\n</node>\n"
} >"$tmp/node.xml"
uri="test://$tmp/node.xml"

xymon() { "$bin" xymon --print --uri "$uri" --host hv1.example.com --column hvmon "$@" 2>/dev/null; }
xymon --format rrd-script | seed rrd_script status
xymon --format rrd-script --message data | seed rrd_script data
"$bin" xymon --print --uri test:///default --host hv1.example.com --column hvmon \
    --format rrd-script 2>/dev/null | seed rrd_script default
xymon --format splitncv | seed rrd_script splitncv
xymon --format splitncv --state "$tmp/state.json" >/dev/null
seed rate_state hostile <"$tmp/state.json"
"$bin" xymon --print --uri test:///default --host hv1.example.com --column hvmon \
    --format splitncv --state "$tmp/state2.json" >/dev/null 2>&1
seed rate_state default <"$tmp/state2.json"
# A state the rate_state target's own sample ("vm", pid 100, running) has fresh rates from.
printf '%s\n' '{"version":1,"taken_at_ms":1700000000000,"vms":{"vm":{"pid":100,"running":true,"counters":[1,2,3,4,5,6,7,8,9,10,11,12,null]}}}' |
    seed rate_state fresh

printf '%s\0' "${names[@]}" | seed xymon_names hostile
printf '%s\0' "${names[@]}" | seed librenms hostile
printf 'web01\0web-01' | seed xymon_names pair

for domain in $(virsh -q -c "$uri" list --all --id --name | awk '{print $NF}' | head -5) test; do
    [ "$domain" = test ] && u=test:///default || u=$uri
    virsh -q -c "$u" dumpxml "$domain" 2>/dev/null | seed domain_xml "$(printf %s "$domain" | tr -c 'A-Za-z0-9' _)" || true
done

# The real guest's agent answer as field=value lines (the guest_info target's input).
virsh -q -c "$uri" guestinfo hvmon-linux 2>/dev/null | sed -n 's/^\([^ ]*\) *: \(.*\)$/\1=\2/p' |
    seed guest_info hvmon_linux || true

seed procfs stat </proc/self/stat
seed procfs status </proc/self/status
seed procfs meminfo </proc/meminfo
seed procfs uptime </proc/uptime
printf 'qemu-system-x86_64\0-name\0guest=web,,01,debug-threads=on\0' | seed procfs cmdline

fixtures=tests/fixtures/cbsd
declare -A file_of=(
    [cbsd_bls]=bls.txt [cbsd_disk_list]=bhyve-dsk-list.txt [cbsd_nic_list]=bhyve-nic-list.txt
    [cbsd_snapshots]=jsnapshot.txt [cbsd_zfs]=zfs-list.txt [cbsd_kstat]=sysctl-kstat.txt
    [cbsd_ifconfig]=ifconfig.txt [cbsd_netstat]=netstat.txt [cbsd_ps]=ps.txt
)
for target in "${!file_of[@]}"; do
    for host in "$fixtures"/*/; do
        f=$host${file_of[$target]}
        [ -f "$f" ] && seed "$target" "$(basename "$host")" <"$f"
    done
done
# cbsd_assemble: the outputs in its order, NUL-separated; a missing file is an empty output.
for host in "$fixtures"/*/; do
    for f in bls.txt bhyve-dsk-list.txt bhyve-nic-list.txt jsnapshot.txt zfs-list.txt \
        sysctl-kstat.txt ifconfig.txt netstat.txt ps.txt; do
        [ -f "$host$f" ] && cat "$host$f"
        printf '\0'
    done | seed cbsd_assemble "$(basename "$host")"
done
cells=("20g" "20G/1.2G" "1.5T" "96K" "512B" "10GiB" "1,5M" "-" '\-' "0:01.25" "125:07.50"
    "2-01:00:00" "42.5" $'\e[0;32mvm1\e[0m' $'\e(B' "vm1-nic0" "my-nic-vm-nic12")
for i in "${!cells[@]}"; do printf %s "${cells[$i]}" | seed cbsd_cells "$i"; done
