#!/bin/bash
# Soak: SOAK_RUNS (default 1000) consecutive collections against a 500-domain libvirt test
# driver node (the lab mix of tests/support/node_xml.rs, written by `--example node_xml`) and
# against the lab's real QEMU guests (tests/lab/libvirt-up.sh, when it runs), looking for leaks:
#   1. in one process (benches/soak.rs): its VmRSS and open descriptors, first and last run;
#   2. through the CLI, a fresh process a run, as snmpd runs it: failed runs, the peak RSS of
#      the first and the last run, and libvirtd's VmRSS and descriptors before and after
#      both soaks (leaks on the server's side: 2 x SOAK_RUNS connections came and went).
# Exits 1 when a run failed or the in-process soak saw a leak. Prints its BENCHMARKS.md section;
# takes tens of minutes at the default SOAK_RUNS. To write the section:
#   scripts/benchmarks_md.py write -- scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${SOAK_RUNS:-1000}
LAB=${HVMON_LAB:-/tmp/hvmon-lab}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -q --bins --example node_xml
target/release/examples/node_xml 500 "$work/test-500.xml" >/dev/null
uris=("test://$work/test-500.xml")
libvirtd=
if [ -f "$LAB/env" ] && [ -f "$LAB/libvirtd.pid" ]; then
    # shellcheck source=/dev/null
    . "$LAB/env"
    uris+=("$HVMON_QEMU_URI")
    libvirtd=$(cat "$LAB/libvirtd.pid")
else
    echo "soak: the lab is not up (tests/lab/libvirt-up.sh): QEMU guests left out" >&2
fi

# VmRSS in KiB and the number of open descriptors of a PID.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

if [ -n "$libvirtd" ]; then
    libvirtd_rss_before=$(rss_kib "$libvirtd")
    libvirtd_fds_before=$(fds "$libvirtd")
fi

cat <<EOF
## Soak: leaks over many runs in a row (\`scripts/soak.sh\`)

$(scripts/benchmarks_md.py produced-by "SOAK_RUNS=$RUNS scripts/soak.sh")

$RUNS collections in a row against each of: a 500-domain libvirt test-driver node and, when
the lab runs, its real QEMU guests. First in one process (\`cargo bench --bench soak\`: its
VmRSS and open descriptors after the warm-up and after the last run), then through the CLI,
a fresh process a run as snmpd runs it (failed runs, peak RSS of the first and the last run),
and libvirtd's VmRSS and descriptors before and after both.

\`\`\`
EOF
status=0
SOAK_URIS="${uris[*]}" SOAK_RUNS=$RUNS cargo bench --locked -q --bench soak || status=1

have_time=false
[ -x /usr/bin/time ] && have_time=true
for uri in "${uris[@]}"; do
    failed=0
    first_rss= last_rss=
    started=$(date +%s%N)
    for run in $(seq "$RUNS"); do
        if $have_time; then
            /usr/bin/time -f %M -o "$work/peak" target/release/hv_monitor --uri "$uri" -c \
                >/dev/null 2>>"$work/errors" || failed=$((failed + 1))
            # time(1) adds a line when the command failed; the figure is the last line.
            last_rss=$(tail -1 "$work/peak")
            [ "$run" = 1 ] && first_rss=$last_rss
        else
            target/release/hv_monitor --uri "$uri" -c >/dev/null 2>>"$work/errors" ||
                failed=$((failed + 1))
        fi
    done
    per_run=$(( ($(date +%s%N) - started) / RUNS / 1000000 ))
    echo "soak CLI $uri: $RUNS runs, $failed failed, $per_run ms a run (process start included)"
    if $have_time; then
        echo "  peak RSS of hv_monitor: $(mib "$first_rss") in run 1, $(mib "$last_rss") in run $RUNS"
    fi
    if [ "$failed" -gt 0 ]; then
        status=1
        echo "  first failure: $(grep -m1 'hv_monitor:' "$work/errors" || true)"
    fi
done

if [ -n "$libvirtd" ]; then
    echo "libvirtd (PID $libvirtd) across both soaks: VmRSS $(mib "$libvirtd_rss_before") -> $(mib "$(rss_kib "$libvirtd")"), open fds $libvirtd_fds_before -> $(fds "$libvirtd")"
fi
echo '```'
exit $status
