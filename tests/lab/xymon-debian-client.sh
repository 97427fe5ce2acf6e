#!/bin/sh
# xymon-debian-client.sh - the client steps of xymon/README.md on the Debian lab of
# xymon-debian-up.sh (run that first; xymon-debian-down.sh stops this client and restores
# /etc/xymon): our clientlaunch.d drop-in with both columns enabled, then what
# /etc/init.d/xymon-client does on "start": create_includefiles and xymonlaunch with
# clientlaunch.cfg as the xymon user. That script itself exits at once on a machine with the
# server installed (the server runs its own client), so its start command is run here as is.
#
# usage: xymon-debian-client.sh MACHINE XYMON_PORT
# env:   HV_MONITOR_BIN  the hv_monitor binary, in place of the guide's /usr/local/bin/hv_monitor;
#                        the xymon user must be able to run it (xymon-debian-up.sh prints
#                        the copy it installed for that)
set -eu
MACHINE=${1:?usage: xymon-debian-client.sh MACHINE XYMON_PORT}
PORT=${2:?usage: xymon-debian-client.sh MACHINE XYMON_PORT}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=/tmp/hvmon-debxy
PIDFILE=/var/run/xymon/clientlaunch.pid

die() { echo "xymon-debian-client: $*" >&2; exit 1; }
[ -e "$WORK/backup.tar" ] || die "the lab is not up (xymon-debian-up.sh)"
[ -x "${HV_MONITOR_BIN:-}" ] || die "HV_MONITOR_BIN must name the hv_monitor binary"
# Otherwise xymonlaunch would only log "Could not start task" every INTERVAL.
runuser -u xymon -- test -x "$HV_MONITOR_BIN" || die "the xymon user cannot run $HV_MONITOR_BIN"

# Client step 2: the drop-in, [hvmonrrd] enabled as well, and the hvmon column from its
# long-running [hvmon-watch] instead of [hvmon] (the guide's choice between the two), so both
# kinds of xymonlaunch task run here: one every INTERVAL, one started once and kept running.
sed -e "s#/usr/local/bin/hv_monitor#$HV_MONITOR_BIN#" \
    -e '/^\[hvmon\]$/a\'$'\t''DISABLED' \
    -e '/^\[hvmon-watch\]$/,/^$/{/^[[:space:]]*DISABLED$/d}' \
    -e '/^\[hvmonrrd\]$/,/^$/{/^[[:space:]]*DISABLED$/d}' \
    "$REPO/xymon/clientlaunch.d/hv-monitor.cfg" > /etc/xymon/clientlaunch.d/hv-monitor.cfg
# The lab's own: the private port, and not the stock client (it would report this machine).
mkdir -p /etc/xymon/xymonclient.d
echo "XYMONDPORT=\"$PORT\"" > /etc/xymon/xymonclient.d/zz-hvmon-lab.cfg
printf '[client]\n\tDISABLED\n' > /etc/xymon/clientlaunch.d/zz-hvmon-lab.cfg

# The init script's "start", with MACHINE set as it sets it from CLIENTHOSTNAME.
(
    set +u
    . /etc/default/xymon-client
    . /usr/share/xymon/init-common.sh
    MACHINEDOTS=$MACHINE; XYMONCLIENTHOME=/usr/lib/xymon/client
    export XYMONSERVERS XYMONCLIENTHOME CLIENTHOSTNAME MACHINE MACHINEDOTS
    create_includefiles
    start-stop-daemon --pidfile "$PIDFILE" --exec /usr/lib/xymon/client/bin/xymonlaunch \
        --chuid xymon --umask 022 --start -- \
        --config=/etc/xymon/clientlaunch.cfg --log=/var/log/xymon/clientlaunch.log \
        --pidfile="$PIDFILE"
) >>"$WORK/client.log" 2>&1 || { cat "$WORK/client.log" >&2; die "the client did not start"; }
i=0
until [ -s "$PIDFILE" ]; do
    i=$((i+1)); [ $i -lt 100 ] || die "xymonlaunch wrote no pid file (log: /var/log/xymon/clientlaunch.log)"
    sleep 0.1
done
echo "CLIENT_PID=$(cat "$PIDFILE")"
