#!/bin/bash
# Installs the Debian 12 packages the build, the demo and the tests need, only when missing.
# Test peers: libvirtd + QEMU (real guests), net-snmp (snmpd, snmpget), Xymon (xymond,
# xymond_rrd, showgraph.cgi) and rrdtool; strace (a SIGKILL at an exact system call) and
# passwd (useradd: a second local user) for the file-safety tests; Apache (Debian's
# xymon.conf) and Chromium for the web pages (tests/xymon_web.rs); Apache's mod_ssl, the
# openssl CLI and the system CA bundle for HTTPS to xymoncgimsg.cgi (tests/xymon_https.rs);
# dnsmasq-base and iptables for a libvirt network whose DHCP leases tests/guest_agent.rs reads
# (libvirtd looks for both when it starts, so this runs before libvirt-up.sh). Not
# libvirt-daemon-system: it pulls in systemd.
set -euo pipefail
packages=(pkg-config libvirt-dev libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu
          qemu-system-x86 snmpd snmp xymon rrdtool python3 procps iproute2
          strace passwd apache2 openssl ca-certificates dnsmasq-base iptables
          chromium)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
