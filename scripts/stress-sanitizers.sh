#!/bin/bash
# Hunts memory errors on the connection-failure and deadline paths (issue 8, point 6): runs
# hv_monitor against misbehaving libvirt peers many times under AddressSanitizer and under
# valgrind, and prints, per scenario, the iterations run and the errors found.
#
#   scripts/stress-sanitizers.sh [ASAN_ITERATIONS [VALGRIND_ITERATIONS [SCENARIOS]]]
#
# Defaults: 500 ASan and 10 valgrind iterations per scenario, every scenario. SCENARIOS is a
# comma-separated subset of:
#   reset-first   qemu+tcp peer that resets after the client's first byte (the seen abort), -t 2
#   reset-random  test+tcp through a proxy to a real libvirtd that resets at a random byte, -t 2
#   silent        qemu+tcp peer that never answers: the deadline path, -t 0.3
#   reset-late    qemu+tcp peer that never answers and resets 0.2-0.4 s later, -t 0.3: the
#                 collector thread ends just as the process exits
#   slow          test+tcp through a proxy that trickles: the deadline at random points
#   stopped-libvirtd  a private libvirtd stopped with SIGSTOP, -t 0.3
#   stuck-qemu    a private QEMU guest stopped with SIGSTOP before each run: the stats call is
#                 given up on (its thread abandoned) and collection goes on, -t 1
# Under valgrind each deadline is ten times the one above.
# An error is: an exit code other than 0/3/4/5 (134 is the abort), a sanitizer or valgrind
# report, or stdout that is not one LibreNMS document. Failing runs' stderr go to
# $WORK/failures/.
#
# Everything runs on 127.0.0.1:16500-16504 and in a private libvirtd (run as nobody, session
# mode, its own socket directory) with its own guest; the shared lab daemon is never touched.
# Needs root (to run that libvirtd as nobody), python3, valgrind, qemu-system-x86_64.
# The ASan binary is built with RUSTC_BOOTSTRAP=1 -Zsanitizer=address into target-asan/;
# HV_MONITOR_ASAN and HV_MONITOR (the valgrind one) choose other binaries.
# Prints its BENCHMARKS.md section (written only when no run had an error); hours at the
# defaults:
#   scripts/benchmarks_md.py write -- scripts/stress-sanitizers.sh 250 3
set -euo pipefail
cd "$(dirname "$0")/.."
ASAN_N=${1:-500}
VALGRIND_N=${2:-10}
SCENARIOS=${3:-reset-first,reset-random,silent,reset-late,slow,stopped-libvirtd,stuck-qemu}
WORK=$(mktemp -d /tmp/hv-stress.XXXXXX)
chmod 755 "$WORK"
PORT0=16500

if [ -z "${HV_MONITOR_ASAN:-}" ]; then
    RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Zsanitizer=address cargo build --quiet \
        --target x86_64-unknown-linux-gnu --target-dir target-asan --bin hv_monitor
    HV_MONITOR_ASAN=target-asan/x86_64-unknown-linux-gnu/debug/hv_monitor
fi
if [ -z "${HV_MONITOR:-}" ]; then
    cargo build --quiet --bin hv_monitor
    HV_MONITOR=target/debug/hv_monitor
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:exitcode=99:halt_on_error=1}

PIDS=()
LIBVIRTD=
GUEST_QEMU=
cleanup() {
    [ -n "$GUEST_QEMU" ] && kill -CONT "$GUEST_QEMU" 2>/dev/null
    [ -n "$LIBVIRTD" ] && kill -CONT "$LIBVIRTD" 2>/dev/null
    if [ -n "$LIBVIRTD" ]; then
        virsh -q -c "qemu+unix:///session?socket=$SOCK" destroy hvstress-stuck >/dev/null 2>&1 || true
        kill "$LIBVIRTD" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$LIBVIRTD" 2>/dev/null || break; sleep 0.1; done
    fi
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    # Failures are kept for reading; everything else goes.
    if [ -d "$WORK/failures" ]; then
        find "$WORK" -mindepth 1 -maxdepth 1 ! -name failures -exec rm -rf {} +
        echo "failing runs' stderr: $WORK/failures" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# The private libvirtd: unprivileged, so it runs in session mode with every path under $WORK.
LVD=$WORK/libvirtd
mkdir -p "$LVD"/{run,config,cache,data,home}
chown -R 65534:65534 "$LVD"
SOCK=$LVD/run/libvirt/libvirt-sock
env -i PATH=/usr/sbin:/usr/bin HOME="$LVD/home" XDG_RUNTIME_DIR="$LVD/run" \
    XDG_CONFIG_HOME="$LVD/config" XDG_CACHE_HOME="$LVD/cache" XDG_DATA_HOME="$LVD/data" \
    setpriv --reuid=65534 --regid=65534 --clear-groups /usr/sbin/libvirtd \
    >"$LVD/libvirtd.log" 2>&1 &
LIBVIRTD=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "private libvirtd did not start: $LVD/libvirtd.log" >&2; exit 1; }

peer() { # MODE PORT [UNIX_SOCKET]
    python3 scripts/misbehaving-peer.py "$@" &
    PIDS+=($!)
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return; sleep 0.1; done
    echo "peer $1 on port $2 did not start" >&2
    exit 1
}
peer reset-first $((PORT0 + 0))
peer reset-random $((PORT0 + 1)) "$SOCK"
peer silent $((PORT0 + 2))
peer slow $((PORT0 + 3)) "$SOCK"
peer reset-late $((PORT0 + 4))

start_stuck_guest() {
    local disk=$LVD/data/hvstress-stuck.raw
    truncate -s 1M "$disk"
    chown 65534:65534 "$disk"
    cat >"$LVD/guest.xml" <<XML
<domain type='qemu'><name>hvstress-stuck</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$disk'/>
<target dev='vda' bus='virtio'/></disk></devices></domain>
XML
    virsh -q -c "qemu+unix:///session?socket=$SOCK" create "$LVD/guest.xml" >/dev/null
    GUEST_QEMU=$(cat "$LVD/run/libvirt/qemu/run/hvstress-stuck.pid")
    # The first stats call of a new guest is slow; let it happen before the stops.
    "$HV_MONITOR" -t 10 --uri "qemu+unix:///session?socket=$SOCK" >/dev/null 2>&1 || true
}

# Arguments of one run of a scenario; may change the lab first (stops, continues).
prepare() {
    case $1 in
    reset-first) ARGS=(-t 2 --uri "qemu+tcp://127.0.0.1:$PORT0/system") ;;
    reset-random) ARGS=(-t 2 --uri "test+tcp://127.0.0.1:$((PORT0 + 1))/default") ;;
    silent) ARGS=(-t 0.3 --uri "qemu+tcp://127.0.0.1:$((PORT0 + 2))/system") ;;
    reset-late) ARGS=(-t 0.3 --uri "qemu+tcp://127.0.0.1:$((PORT0 + 4))/system") ;;
    slow)
        local deadlines=(0.2 0.3 0.5 0.8 1.2)
        ARGS=(-t "${deadlines[RANDOM % 5]}" --uri "test+tcp://127.0.0.1:$((PORT0 + 3))/default")
        ;;
    stopped-libvirtd) ARGS=(-t 0.3 --uri "test+unix:///default?socket=$SOCK") ;;
    stuck-qemu)
        # Continued, QEMU answers the call that holds its job lock; stopped again, the next
        # run's call takes the free lock and waits: the give-up path every time.
        kill -CONT "$GUEST_QEMU"
        sleep 0.05
        kill -STOP "$GUEST_QEMU"
        ARGS=(-t 1 --uri "qemu+unix:///session?socket=$SOCK")
        ;;
    esac
}

# One run; prints nothing and returns 0 when it was clean.
check_run() { # SCENARIO TOOL ITERATION
    local out=$WORK/out err=$WORK/err why=
    rc=0
    if [ "$2" = asan ]; then
        "$HV_MONITOR_ASAN" "${ARGS[@]}" >"$out" 2>"$err" || rc=$?
    else
        # valgrind runs the program some 20-50 times slower: ten times the deadline keeps
        # each scenario's path (a deadline that cannot be met still is not met).
        local args=("${ARGS[@]}")
        args[1]=$(echo "${ARGS[1]} * 10" | bc)
        valgrind -q --error-exitcode=99 --trace-children=no "$HV_MONITOR" "${args[@]}" \
            >"$out" 2>"$err" || rc=$?
    fi
    case $rc in
    0 | 3 | 4 | 5) ;;
    *) why="exit $rc" ;;
    esac
    if grep -qE 'AddressSanitizer|LeakSanitizer|==[0-9]+== (Invalid|Conditional|Syscall|Mismatched)' "$err"; then
        why="$why sanitizer report"
    fi
    if ! jq -e 'has("version") and has("error") and has("errorString") and has("data")' \
        "$out" >/dev/null 2>&1 || [ "$(wc -l <"$out")" != 1 ]; then
        why="$why stdout not one document"
    fi
    [ -z "$why" ] && return 0
    mkdir -p "$WORK/failures"
    {
        echo "$1 $2 #$3: $why; args: ${ARGS[*]}"
        cat "$out" "$err"
    } >"$WORK/failures/$1.$2.$3"
    echo "  $1 $2 #$3: $why" >&2
    return 1
}

run_scenario() { # SCENARIO TOOL N
    local errors=0 started=$SECONDS codes
    declare -A seen=()
    for i in $(seq "$3"); do
        prepare "$1"
        check_run "$1" "$2" "$i" || errors=$((errors + 1))
        seen[$rc]=$((${seen[$rc]:-0} + 1))
    done
    codes=$(for c in "${!seen[@]}"; do printf ' %s:%s' "$c" "${seen[$c]}"; done)
    printf '%-17s %-8s iterations %5d  errors %d  (%d s; exit codes%s)\n' "$1" "$2" "$3" \
        "$errors" $((SECONDS - started)) "$codes"
    TOTAL_ERRORS=$((TOTAL_ERRORS + errors))
}

TOTAL_ERRORS=0
cat <<EOF
## Sanitizer and valgrind runs of the connection-failure and deadline paths (\`scripts/stress-sanitizers.sh\`)

$(scripts/benchmarks_md.py produced-by "scripts/stress-sanitizers.sh $ASAN_N $VALGRIND_N $SCENARIOS")

hv_monitor against misbehaving libvirt peers, $ASAN_N times per scenario under
AddressSanitizer and $VALGRIND_N times under valgrind (with ten times the deadline):
reset-first (a \`qemu+tcp\` peer that resets after the client's first byte), reset-random (a
proxy to a real libvirtd that resets at a random byte), silent (never answers, \`-t 0.3\`),
reset-late (never answers, resets 0.2-0.4 s later), slow (a proxy that trickles, deadlines 0.2
to 1.2 s), stopped-libvirtd (a private libvirtd stopped with SIGSTOP), stuck-qemu (a private
QEMU guest stopped with SIGSTOP before each run). An error is an exit code other than
0/3/4/5, any ASan or valgrind report, or stdout that is not one LibreNMS document. libvirt
$(libvirtd --version | awk '{print $NF}'), $(openssl version | awk '{print $1, $2}').

\`\`\`
EOF
for scenario in ${SCENARIOS//,/ }; do
    case $scenario in
    stopped-libvirtd) kill -STOP "$LIBVIRTD" ;;
    stuck-qemu) [ -n "$GUEST_QEMU" ] || start_stuck_guest ;;
    esac
    [ "$ASAN_N" -gt 0 ] && run_scenario "$scenario" asan "$ASAN_N"
    [ "$VALGRIND_N" -gt 0 ] && run_scenario "$scenario" valgrind "$VALGRIND_N"
    case $scenario in
    stopped-libvirtd) kill -CONT "$LIBVIRTD" ;;
    stuck-qemu) kill -CONT "$GUEST_QEMU" ;;
    esac
done
echo "errors in all: $TOTAL_ERRORS"
echo '```'
[ "$TOTAL_ERRORS" = 0 ]
