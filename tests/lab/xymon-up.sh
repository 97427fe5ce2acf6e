#!/bin/sh
# xymon-up.sh - a private Xymon 4.3 server on loopback for hv-monitor's tests:
# xymond plus the status and data xymond_rrd workers (with our extra-script when asked),
# configured with the project's own xymon/xymonserver.d and xymon/graphs.d files, so the
# tests check what we ship.
#
# usage: xymon-up.sh DIR PORT [WATCH_PID]
#   DIR        XYMONHOME, wiped and rebuilt; keep it short (xymond_rrd binds a unix socket
#              under DIR/tmp and sun_path holds 108 bytes). Must start with /tmp/hvmon-xymon-.
#   PORT       TCP port on 127.0.0.1.
#   WATCH_PID  optional: stop the server when this process exits (the test binary), so a
#              panicking or killed test run leaves nothing behind.
# env:
#   XYMON_HOSTS        host names for hosts.cfg (space separated)
#   HV_MONITOR_BIN     the hv_monitor binary the extra-script wrapper runs
#   XYMON_EXTRA_TESTS  TEST2RRD names for --extra-tests= (default hvmonrrdpage, the hvmonrrd
#                      column's in xymonserver.d); empty: no extra script
#   HV_MONITOR_XYMON_SNIPPETS  directory with the xymonserver.d/ and graphs.d/ snippets
#                      (default: the repository's xymon/); HV_MONITOR_XYMON_WRAPPER the
#                      extra-script (default: SNIPPETS/hv_monitor-xymon-rrd.sh). The package test
#                      (tests/deb/test-package.sh) points both at the installed files.
# Prints KEY=VALUE lines (XYMONHOME, RRDDIR, PORT, ENVFILE) on success.
# Debian packages: xymon rrdtool.
set -eu

DIR=${1:?usage: xymon-up.sh DIR PORT [WATCH_PID]}
PORT=${2:?usage: xymon-up.sh DIR PORT [WATCH_PID]}
WATCH=${3:-}
HOSTS=${XYMON_HOSTS:-hv1.example.com}
EXTRA_TESTS=${XYMON_EXTRA_TESTS-hvmonrrdpage}
BIN=/usr/lib/xymon/server/bin
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SELF=xymon-lab
SNIPPETS=${HV_MONITOR_XYMON_SNIPPETS:-$REPO/xymon}

die() { echo "xymon-up: $*" >&2; exit 1; }

case "$DIR" in /tmp/hvmon-xymon-*) ;; *) die "DIR must start with /tmp/hvmon-xymon- (got $DIR)";; esac
for b in xymonlaunch xymond xymond_channel xymond_rrd xymon showgraph.cgi xymoncgimsg.cgi; do
    [ -x "$BIN/$b" ] || die "$BIN/$b missing: apt-get install -y xymon rrdtool"
done
command -v rrdtool >/dev/null || die "rrdtool missing: apt-get install -y rrdtool"
# A previous run of ours may still be there (its watchdog stops it, but maybe not yet).
[ ! -x "$HERE/xymon-down.sh" ] || "$HERE/xymon-down.sh" "$DIR" >/dev/null 2>&1 || true
if "$BIN/xymon" --timeout=2 "127.0.0.1:$PORT" ping >/dev/null 2>&1; then
    die "something already answers on 127.0.0.1:$PORT"
fi
rm -rf "$DIR"
mkdir -p "$DIR/etc" "$DIR/tmp" "$DIR/logs" "$DIR/run" "$DIR/bin" \
         "$DIR/var/rrd" "$DIR/var/hist" "$DIR/var/histlogs" "$DIR/var/acks" \
         "$DIR/var/data" "$DIR/var/disabled" "$DIR/var/hostdata" "$DIR/var/logs"

for f in protocols.cfg rrddefinitions.cfg graphs.cfg snmpmibs.cfg; do
    if [ -f "/etc/xymon/$f" ]; then cp "/etc/xymon/$f" "$DIR/etc/$f"; else : > "$DIR/etc/$f"; fi
done
# Debian's graphs.cfg includes a file its init script builds; ours appends the shipped one.
sed -i '/^include \/var\/run\/xymon\//d' "$DIR/etc/graphs.cfg"
cat "$SNIPPETS/graphs.d/hv-monitor.cfg" >> "$DIR/etc/graphs.cfg"
: > "$DIR/etc/analysis.cfg"; : > "$DIR/etc/client-local.cfg"; : > "$DIR/etc/alerts.cfg"

{
    echo "127.0.0.1 $SELF # noconn"
    for h in $HOSTS; do echo "127.0.0.1 $h # noconn"; done
} > "$DIR/etc/hosts.cfg"

# The extra-script wrapper we ship, pointed at the binary under test.
WRAPPER=""
if [ -n "$EXTRA_TESTS" ]; then
    [ -x "${HV_MONITOR_BIN:-}" ] || die "HV_MONITOR_BIN must name the hv_monitor binary"
    WRAPPER=${HV_MONITOR_XYMON_WRAPPER:-$SNIPPETS/hv_monitor-xymon-rrd.sh}
    [ -x "$WRAPPER" ] || die "$WRAPPER missing or not executable"
fi

cat > "$DIR/etc/xymonserver.cfg" <<CFG
XYMONSERVERROOT="$DIR"
XYMONHOME="$DIR"
XYMONSERVERHOSTNAME="$SELF"
XYMONSERVERIP="127.0.0.1"
XYMONSERVEROS="linux"
XYMONSERVERLOGS="$DIR/logs"
XYMONTMP="$DIR/tmp"
XYMONVAR="$DIR/var"
XYMONRRDS="$DIR/var/rrd"
HOSTSCFG="$DIR/etc/hosts.cfg"
XYMONDPORT="$PORT"
XYMSRV="127.0.0.1"
XYMSERVERS=""
XYMON="$BIN/xymon"
MACHINEDOTS="$SELF"
MACHINE="$SELF"
PATH="$BIN:/bin:/usr/bin:/sbin:/usr/sbin:/usr/local/bin"
SHELL="/bin/sh"
FQDN="TRUE"
HV_MONITOR_BIN="${HV_MONITOR_BIN:-}"
TEST2RRD="labprobe=ncv"
GRAPHS="ncv"
NCV_labprobe="*:GAUGE"
include $SNIPPETS/xymonserver.d/hv-monitor.cfg
CFG

RRDOPTS="--rrddir=$DIR/var/rrd --no-cache"
[ -z "$WRAPPER" ] || RRDOPTS="$RRDOPTS --extra-script=$WRAPPER --extra-tests=$EXTRA_TESTS"
cat > "$DIR/etc/tasks.cfg" <<CFG
[xymond]
	ENVFILE $DIR/etc/xymonserver.cfg
	CMD $BIN/xymond --listen=127.0.0.1:$PORT --hosts=$DIR/etc/hosts.cfg --pidfile=$DIR/run/xymond.pid --log=$DIR/logs/xymond.log --admin-senders=127.0.0.1 --no-download

[rrdstatus]
	ENVFILE $DIR/etc/xymonserver.cfg
	NEEDS xymond
	CMD $BIN/xymond_channel --channel=status --log=$DIR/logs/rrd-status.log $BIN/xymond_rrd $RRDOPTS

[rrddata]
	ENVFILE $DIR/etc/xymonserver.cfg
	NEEDS xymond
	CMD $BIN/xymond_channel --channel=data --log=$DIR/logs/rrd-data.log $BIN/xymond_rrd $RRDOPTS
CFG

"$BIN/xymonlaunch" --config="$DIR/etc/tasks.cfg" --env="$DIR/etc/xymonserver.cfg" \
    --log="$DIR/logs/xymonlaunch.log" --pidfile="$DIR/run/xymonlaunch.pid"

i=0
until "$BIN/xymon" --timeout=2 "127.0.0.1:$PORT" ping >/dev/null 2>&1; do
    i=$((i+1)); [ $i -lt 100 ] || die "xymond did not answer on 127.0.0.1:$PORT (logs: $DIR/logs)"
    sleep 0.1
done
# The rrd workers attach a few seconds after xymond; until then messages for their channel are
# dropped. Probe both channels until both probe RRDs exist.
i=0
while :; do
    "$BIN/xymon" "127.0.0.1:$PORT" "status $SELF.labprobe green probe
probe : $i" >/dev/null 2>&1 || true
    "$BIN/xymon" "127.0.0.1:$PORT" "data $SELF.trends
[labprobe-data.rrd]
DS:probe:GAUGE:600:U:U $i" >/dev/null 2>&1 || true
    sleep 0.3
    [ -f "$DIR/var/rrd/$SELF/labprobe.rrd" ] && [ -f "$DIR/var/rrd/$SELF/labprobe-data.rrd" ] && break
    i=$((i+1)); [ $i -lt 150 ] || die "probe RRDs never appeared under $DIR/var/rrd/$SELF (logs: $DIR/logs)"
done

if [ -n "$WATCH" ]; then
    # Detached watchdog: stops this server once the test process is gone.
    nohup sh -c "while kill -0 $WATCH 2>/dev/null; do sleep 1; done; exec '$HERE/xymon-down.sh' '$DIR'" \
        >/dev/null 2>&1 &
    echo $! > "$DIR/run/watchdog.pid"
fi

echo "XYMONHOME=$DIR"
echo "RRDDIR=$DIR/var/rrd"
echo "PORT=$PORT"
echo "ENVFILE=$DIR/etc/xymonserver.cfg"
