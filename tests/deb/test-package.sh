#!/bin/bash
# tests/deb/test-package.sh - the Debian package the way an admin meets it (issue 12):
# build it with `cargo deb`, lint it, `apt install ./hv-monitor_*.deb`, use what it installed
# (man page, completion, units, examples, wrapper; snmpd serving the example extend lines on
# 127.0.0.1:16190-16191), run tests/snmpd.rs and tests/xymon_e2e.rs against the installed
# binary and example files, then `apt purge` and check that nothing of ours is left.
# Prints "ok"/"FAIL" per check and "N passed, N failed"; exits 1 on any failure.
#
# Needs root and Debian 12; installs cargo-deb, lintian and man-db when missing. The snmpd and
# Xymon tests use their fixed ports and run under `flock $HVMON_ITEST_LOCK` (default
# /tmp/hvmon-itest.lock, the lock every engineer's port-bound tests share). Run from
# tests/run.sh while its libvirtd is up (the Xymon test also sends the real QEMU guests).
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
export CI=${CI:-true} DEBIAN_FRONTEND=noninteractive
SNMP_PORT_DIRECT=16190
SNMP_PORT_CACHED=16191
PKG=hv-monitor
DOC=/usr/share/doc/hv-monitor
EXAMPLES=$DOC/examples
CACHE=/var/cache/hv_monitor.json
ITEST_LOCK=${HVMON_ITEST_LOCK:-/tmp/hvmon-itest.lock}
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600)

passed=0
failed=0
WORK=$(mktemp -d /tmp/hvmon-deb-test.XXXXXX)
chmod 755 "$WORK"
LOG=$WORK/last.log
SNMPD_PIDS=()
PLANTED=

pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL - $1"
    # sed alone (no head): a closed pipe would end the script under pipefail.
    [ ! -s "$LOG" ] || sed -n '1,40s/^/    | /p' "$LOG"
}
# check DESCRIPTION COMMAND...: passes when COMMAND exits 0; its output is shown on failure.
check() {
    local what=$1
    shift
    if "$@" >"$LOG" 2>&1; then pass "$what"; else fail "$what"; fi
}
summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
# A step the rest depends on failed: report and stop.
abort() {
    fail "$1"
    echo "stopping: the remaining checks need this step"
    summary
    exit 1
}

cleanup() {
    local pid
    for pid in "${SNMPD_PIDS[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q installed; then
        "${APT[@]}" purge "$PKG" >/dev/null 2>&1
    fi
    # An admin's cache files from before this test come back.
    for f in "$CACHE" "$CACHE.snmp"; do
        [ ! -e "$WORK/saved/$(basename "$f")" ] || mv "$WORK/saved/$(basename "$f")" "$f"
    done
    [ -z "$PLANTED" ] || rmdir "$PLANTED" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || abort "runs as root (apt install, snmpd as Debian-snmp)"

# ---- tools ---------------------------------------------------------------------------------
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked \
    || abort "cargo install cargo-deb --locked"
missing=()
for p in lintian man-db snmpd snmp python3 systemd; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    "${APT[@]}" update -qq && "${APT[@]}" install -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || abort "apt-get install ${missing[*]}"
fi
# A package left by an interrupted run would hide what this one installs.
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q installed; then
    "${APT[@]}" purge "$PKG" >/dev/null || abort "purge the $PKG left by an earlier run"
fi
mkdir -p "$WORK/saved"
for f in "$CACHE" "$CACHE.snmp"; do
    [ ! -e "$f" ] || mv "$f" "$WORK/saved/"
done

# ---- build and lint ------------------------------------------------------------------------
cargo deb --locked >"$LOG" 2>&1 || abort "cargo deb"
deb=$(tail -n 1 "$LOG")
version=$(cargo metadata --no-deps --format-version 1 \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
case "$deb" in
    */target/debian/${PKG}_${version}-1_amd64.deb) pass "cargo deb builds $(basename "$deb")" ;;
    *) abort "cargo deb names its package ${PKG}_${version}-1_amd64.deb (got: $deb)" ;;
esac
# apt reads a local package as its sandbox user _apt: give it a copy it can read.
cp "$deb" "$WORK/" && chmod 644 "$WORK/$(basename "$deb")"
deb=$WORK/$(basename "$deb")

depends=$(dpkg-deb -f "$deb" Depends)
check "Depends is the real shared libraries ($depends)" \
    bash -c '[[ "$1" == *libvirt0* && "$1" == *libc6* ]]' _ "$depends"
# Installing starts nothing and enables nothing; an upgrade re-enables only what the admin had
# enabled (deb-systemd-helper enable under `was-enabled`) and only try-restarts.
check "the maintainer scripts neither enable nor start a unit" bash -c '
    dpkg-deb -e "$1" "$2/control" || exit 1
    [ ! -e "$2/control/conffiles" ] || { echo conffiles:; cat "$2/control/conffiles"; exit 1; }
    cat "$2"/control/p*inst "$2"/control/p*rm 2>/dev/null | awk "
        /deb-systemd-invoke (start|restart)|systemctl (--system )?(enable|start)/ { print \"starts/enables: \" \$0; bad = 1 }
        /deb-systemd-helper enable/ && last !~ /was-enabled/ { print \"unguarded: \" \$0; bad = 1 }
        NF && !/^[[:space:]]*#/ { last = \$0 }
        END { exit bad }"' _ "$deb" "$WORK"

# --fail-on error: warnings do not fail lintian itself, they are checked against the README.
# Its scratch files (MLDBM databases) go in $WORK, removed with it, not in /tmp.
TMPDIR=$WORK lintian --fail-on error --tag-display-limit 0 "$deb" >"$WORK/lintian.txt" 2>&1
lintian_status=$?
cp "$WORK/lintian.txt" "$LOG"
if [ "$lintian_status" -eq 0 ] && ! grep -q '^E: ' "$WORK/lintian.txt"; then
    pass "lintian: no errors"
else
    fail "lintian: no errors (exit $lintian_status)"
fi
# Every warning lintian gives is listed in the README, with its reason.
undocumented=()
while read -r tag; do
    grep -q "\`$tag\`" README.md || undocumented+=("$tag")
done < <(sed -n 's/^W: [^ ]*: \([^ ]*\).*/\1/p' "$WORK/lintian.txt" | sort -u)
echo "lintian warnings not in README.md: ${undocumented[*]:-none}" >"$LOG"
check "every lintian warning is explained in README.md" test ${#undocumented[@]} -eq 0

# ---- install -------------------------------------------------------------------------------
"${APT[@]}" install "$deb" >"$LOG" 2>&1 || abort "apt install ./$(basename "$deb")"
pass "apt install ./$(basename "$deb")"
dpkg -L "$PKG" | sort >"$WORK/files.txt"

check "hv_monitor is /usr/bin/hv_monitor" test "$(command -v hv_monitor)" = /usr/bin/hv_monitor
check "hv_monitor --version says $version" bash -c '[ "$(hv_monitor --version)" = "hv_monitor $1" ]' _ "$version"
check "hv_monitor runs on libvirt's test driver" bash -c \
    'hv_monitor --uri test:///default | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[\"error\"]==0 and \"test\" in d[\"data\"][\"VMs\"], d"'

# The man page: installed gzipped where man finds it, renders without groff warnings, whole.
check "man page at /usr/share/man/man1/hv_monitor.1.gz" test -f /usr/share/man/man1/hv_monitor.1.gz
check "man -w hv_monitor finds it" bash -c '[ "$(man -w hv_monitor)" = /usr/share/man/man1/hv_monitor.1.gz ]'
check "man -l renders it without warnings" bash -c \
    'out=$(MANWIDTH=80 man --warnings -l /usr/share/man/man1/hv_monitor.1.gz 2>&1 >/dev/null); echo "$out"; [ -z "$out" ]'
MANWIDTH=80 man hv_monitor 2>/dev/null | col -b >"$WORK/man.txt"
for section in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES; do
    check "man hv_monitor has $section" grep -q "^$section" "$WORK/man.txt"
done
for text in "hv_monitor xymon-rrd" "--no-host-check" "XYMONDPORT" "HV_MONITOR_CBSD_PATH" \
            "/var/cache/hv_monitor.json.snmp" "$EXAMPLES/"; do
    check "man hv_monitor mentions $text" grep -qF -- "$text" "$WORK/man.txt"
done

# Completions: where bash-completion, zsh and fish look; bash completes what the CLI accepts.
for f in /usr/share/bash-completion/completions/hv_monitor /usr/share/zsh/vendor-completions/_hv_monitor \
         /usr/share/fish/vendor_completions.d/hv_monitor.fish; do
    check "completion $f" test -s "$f"
done
complete_words() {
    # complete_words WORD...: what bash's completion offers for the last word.
    bash --norc --noprofile -c '
        source /usr/share/bash-completion/completions/hv_monitor || exit 1
        spec=$(complete -p hv_monitor) || exit 1
        func=$(sed -n "s/.*-F \([^ ]*\).*/\1/p" <<<"$spec")
        COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        "$func" hv_monitor "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
check "bash completes 'hv_monitor xy' to both subcommands" bash -c \
    '[ "$(printf "%s\n" "$@" | sort | tr "\n" " ")" = "xymon xymon-rrd " ]' _ $(complete_words hv_monitor xy)
check "bash completes 'hv_monitor xymon --for' to --format" bash -c '[ "$*" = "--format" ]' _ \
    $(complete_words hv_monitor xymon --for)
check "bash completes 'hv_monitor xymon --format' to its values" bash -c \
    '[ "$(printf "%s\n" "$@" | sort | tr "\n" " ")" = "ncv rrd-script splitncv " ]' _ \
    $(complete_words hv_monitor xymon --format "")
for shell in zsh fish; do
    if command -v "$shell" >/dev/null; then
        file=$( [ "$shell" = zsh ] && echo /usr/share/zsh/vendor-completions/_hv_monitor \
            || echo /usr/share/fish/vendor_completions.d/hv_monitor.fish)
        check "$shell parses its completion" "$shell" -n "$file"
    fi
done

# The systemd units of the cached LibreNMS mode (timer, or the watcher): valid, installed, not
# enabled.
UNITS=(/usr/lib/systemd/system/hv_monitor.service /usr/lib/systemd/system/hv_monitor.timer
       /usr/lib/systemd/system/hv_monitor-watch.service)
for u in "${UNITS[@]}"; do check "unit $u installed" test -f "$u"; done
if command -v systemd-analyze >/dev/null; then
    check "systemd-analyze verify accepts the units" systemd-analyze verify "${UNITS[@]}"
fi
check "no unit of ours is enabled, masked or linked under /etc/systemd" bash -c \
    'found=$(find /etc/systemd -name "hv_monitor*"); echo "$found"; [ -z "$found" ]'
if command -v systemctl >/dev/null; then
    for u in hv_monitor.timer hv_monitor-watch.service; do
        check "systemctl is-enabled $u says disabled" bash -c \
            '[ "$(systemctl is-enabled "$1" 2>/dev/null)" = disabled ]' _ "$u"
    done
fi

# The examples, and the paths inside them: every hv_monitor path they name is installed.
for f in librenms/snmpd.conf librenms/hv_monitor.cron xymon/clientlaunch.d/hv-monitor.cfg \
         xymon/xymonserver.d/hv-monitor.cfg xymon/graphs.d/hv-monitor.cfg xymon/tasks.d/hv-monitor.cfg; do
    check "example $EXAMPLES/$f" test -s "$EXAMPLES/$f"
done
check "copyright and changelog in $DOC" test -s "$DOC/copyright" -a -s "$DOC/changelog.Debian.gz"
named=$(grep -rhoE '/[a-z/_.-]*hv_monitor[a-z_.-]*' "$EXAMPLES" "${UNITS[@]}" /usr/lib/hv_monitor \
    | grep -vE '^/var/|^/etc/|\.(timer|service|log|json)$|/hv_monitor\.(HOST|cron)' | sort -u)
for path in $named; do
    check "the installed examples name $path, which is installed and executable" test -x "$path"
done
wrapper=$(sed -n 's/.*--extra-script=\([^ ]*\).*/\1/p' "$EXAMPLES/xymon/tasks.d/hv-monitor.cfg" | sort -u)
check "tasks.d names one extra-script, $wrapper, that the package installs" \
    grep -qx "$wrapper" "$WORK/files.txt"
# The wrapper hands its arguments to the installed hv_monitor: a refused test name exits 2.
check "the extra-script wrapper runs the installed hv_monitor xymon-rrd" bash -c \
    '"$1" h "bad/test" /nonexistent; [ $? -eq 2 ]' _ "$wrapper"

# ---- as an admin: LibreNMS through a real snmpd with the example lines --------------------
# start_snmpd PORT EXTEND_LINE: snmpd as Debian-snmp, as Debian runs it.
start_snmpd() {
    local dir=$WORK/snmpd-$1
    mkdir -p "$dir/conf" "$dir/persist"
    printf 'rocommunity public 127.0.0.1\n%s\n' "$2" >"$dir/conf/snmpd.conf"
    echo "mibs :" >"$dir/conf/snmp.conf"
    chmod -R a+rwX "$dir"
    SNMPCONFPATH=$dir/conf SNMP_PERSISTENT_DIR=$dir/persist /usr/sbin/snmpd -f -Lf "$dir/log" \
        -u Debian-snmp -g Debian-snmp "udp:127.0.0.1:$1" &
    SNMPD_PIDS+=($!)
    local i
    for i in $(seq 50); do
        snmpget -v2c -c public -t 0.5 -r 0 "127.0.0.1:$1" .1.3.6.1.2.1.1.3.0 >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
# NET-SNMP-EXTEND-MIB::nsExtendOutputFull."hv-monitor", decoded as LibreNMS does.
librenms_reads() {
    snmpget -v2c -c public -On -Oqv -t 10 -r 0 "127.0.0.1:$1" \
        .1.3.6.1.4.1.8072.1.3.2.3.1.2.10.104.118.45.109.111.110.105.116.111.114 | python3 -c '
import base64, gzip, json, sys
value = sys.stdin.read().strip().strip("\"")
doc = json.loads(gzip.decompress(base64.b64decode(value)))
assert doc["error"] == 0 and doc["data"]["hv"] == "libvirt" and "test" in doc["data"]["VMs"], doc
print("LibreNMS reads", len(doc["data"]["VMs"]), "VMs")'
}
direct=$(grep -m1 '^extend hv-monitor /usr/bin/hv_monitor' "$EXAMPLES/librenms/snmpd.conf")
# As hv_monitor(1) says: snmpd's user needs the URI (the test driver stands in for qemu:///system).
check "snmpd starts with the example's direct extend line" \
    start_snmpd $SNMP_PORT_DIRECT "$direct --uri test:///default"
check "LibreNMS reads the direct mode through snmpd ($direct)" librenms_reads $SNMP_PORT_DIRECT

# Cached mode: the installed service's command writes the cache, snmpd serves the example line.
exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/hv_monitor.service)
check "the service's ExecStart ($exec_start) writes the cache" \
    env LIBVIRT_DEFAULT_URI=test:///default $exec_start
cached=$(sed -n 's/^#\(extend hv-monitor \/bin\/cat .*\)/\1/p' "$EXAMPLES/librenms/snmpd.conf")
check "snmpd starts with the example's cached extend line" start_snmpd $SNMP_PORT_CACHED "$cached"
check "LibreNMS reads the cached mode through snmpd ($cached)" librenms_reads $SNMP_PORT_CACHED

# ---- the integration tests against the installed binary and examples -----------------------
export HV_MONITOR_BIN=/usr/bin/hv_monitor
export HV_MONITOR_XYMON_SNIPPETS=$EXAMPLES/xymon HV_MONITOR_XYMON_WRAPPER=$wrapper
for t in snmpd xymon_e2e; do
    flock "$ITEST_LOCK" cargo test --locked --test "$t" >"$LOG" 2>&1
    status=$?
    if [ $status -eq 0 ]; then
        pass "cargo test --test $t against $HV_MONITOR_BIN: $(grep -E '^test result:' "$LOG" | tail -n 1)"
    else
        fail "cargo test --test $t against $HV_MONITOR_BIN"
    fi
done
unset HV_MONITOR_BIN HV_MONITOR_XYMON_SNIPPETS HV_MONITOR_XYMON_WRAPPER

# ---- purge ---------------------------------------------------------------------------------
# An admin who enabled the timer: purge must also forget that.
if command -v systemctl >/dev/null; then
    check "the admin enables hv_monitor.timer" systemctl enable hv_monitor.timer
fi
# The xymon user can make any name in its XYMONTMP: a directory named like a state file must
# neither fail the purge nor be removed (it is not ours).
if id xymon >/dev/null 2>&1 && [ -d /var/lib/xymon/tmp ]; then
    PLANTED=/var/lib/xymon/tmp/hv_monitor.planted.hvmon.state.json
    check "the xymon user makes a directory named like a state file" \
        runuser -u xymon -- mkdir "$PLANTED"
fi
"${APT[@]}" purge "$PKG" >"$LOG" 2>&1 || abort "apt purge $PKG"
pass "apt purge $PKG"
if [ -n "$PLANTED" ]; then
    check "purge left the planted directory alone" test -d "$PLANTED"
    rmdir "$PLANTED"
    PLANTED=
fi
check "dpkg no longer knows $PKG" bash -c '! dpkg-query -W "$1" 2>/dev/null' _ "$PKG"
left=()
while read -r path; do
    [ -e "$path" ] || [ -L "$path" ] || continue
    # A directory other packages share (/usr/bin, /usr/share/man/man1) stays theirs.
    [ -d "$path" ] && dpkg-query -S "$path" >/dev/null 2>&1 && continue
    left+=("$path")
done <"$WORK/files.txt"
echo "left: ${left[*]:-nothing}" >"$LOG"
check "nothing dpkg -L listed is left" test ${#left[@]} -eq 0
check "no cache files left" bash -c '! ls /var/cache/hv_monitor.json* /var/cache/.hv_monitor.* 2>/dev/null'
check "no unit links or deb-systemd-helper state left" bash -c \
    'found=$(find /etc/systemd /var/lib/systemd -name "hv_monitor*" 2>/dev/null); echo "$found"; [ -z "$found" ]'

summary
