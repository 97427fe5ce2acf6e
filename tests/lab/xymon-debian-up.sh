#!/bin/sh
# xymon-debian-up.sh - the Debian xymon package, as installed, started the way its init script
# starts it, with hv-monitor's drop-ins in /etc/xymon/*.d, on a private port; plus Apache with
# Debian's own /etc/apache2/conf-available/xymon.conf serving the packaged CGIs.
#
# Why in place and not a private copy: Debian's CGI wrappers (/usr/lib/xymon/cgi-bin/*.sh, i.e.
# cgiwrap) read the compiled-in /usr/lib/xymon/server/etc/cgioptions.cfg (= /etc/xymon) and so
# always use /etc/xymon/xymonserver.cfg with /var/run/xymon's include files. A relocated copy
# would need our own CGI wrappers, and the pages a browser gets would no longer be the package's.
# So the run changes /etc/xymon, /var/lib/xymon, /var/log/xymon and /var/run/xymon, and first
# saves them whole (tar, owners and modes kept); xymon-debian-down.sh puts them back exactly.
#
# usage: xymon-debian-up.sh XYMON_PORT HTTP_PORT [WATCH_PID]
#   WATCH_PID  stop everything and restore /etc when this process exits (the test binary).
# env:
#   XYMON_HOSTS     host names added to hosts.cfg (space separated); "NAME+TAGS" adds hosts.cfg
#                   tags, e.g. hv1.example.com+NOCOLUMNS:info
#   HV_MONITOR_BIN  the hv_monitor binary under test; installed (copied) as
#                   $WORK/bin/hv_monitor, where the xymon user can run it wherever the build
#                   lives (a clone in a 0700 directory shuts it out), and run from there by the
#                   extra-script wrapper; printed as HV_MONITOR_BIN=, for the tests and
#                   xymon-debian-client.sh
# Prints KEY=VALUE lines on success. Debian packages: xymon rrdtool apache2.
set -eu

PORT=${1:?usage: xymon-debian-up.sh XYMON_PORT HTTP_PORT [WATCH_PID]}
HTTP=${2:?usage: xymon-debian-up.sh XYMON_PORT HTTP_PORT [WATCH_PID]}
WATCH=${3:-}
HOSTS=${XYMON_HOSTS:-hv1.example.com}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=/tmp/hvmon-debxy
BIN=/usr/lib/xymon/server/bin
WRAPPER_DIR=/usr/local/lib/hv_monitor

die() { echo "xymon-debian-up: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it changes /etc/xymon and starts Xymon as the xymon user)"
[ -r /usr/share/xymon/init-common.sh ] && [ -x "$BIN/xymond" ] || die "the Debian package xymon is not installed"
[ -x /usr/sbin/apache2 ] || die "the Debian package apache2 is not installed"
[ -x "${HV_MONITOR_BIN:-}" ] || die "HV_MONITOR_BIN must name the hv_monitor binary"
if [ -s /var/run/xymon/xymonlaunch.pid ] && kill -0 "$(cat /var/run/xymon/xymonlaunch.pid)" 2>/dev/null; then
    die "a Xymon server already runs from /etc/xymon (pid $(cat /var/run/xymon/xymonlaunch.pid)); not touching it"
fi
[ ! -e "$WORK/backup.tar" ] || "$HERE/xymon-debian-down.sh" >/dev/null 2>&1 || true
[ ! -e "$WORK/backup.tar" ] || die "$WORK/backup.tar exists: another run, or restore it with xymon-debian-down.sh"
"$BIN/xymon" --timeout=2 "127.0.0.1:$PORT" ping >/dev/null 2>&1 && die "something answers on 127.0.0.1:$PORT"

rm -rf "$WORK" "$WORK.failed"
mkdir -p "$WORK/apache"
mkdir -p /var/run/xymon
tar -C / -cpf "$WORK/backup.tar" etc/xymon var/lib/xymon var/log/xymon var/run/xymon
# From here on a failure undoes everything.
# The failed run's logs are kept in $WORK.failed for a look.
trap 'rc=$?; [ $rc = 0 ] || { rm -rf "$WORK.failed"; mkdir -p "$WORK.failed"
    cp -r /var/log/xymon "$WORK/apache" "$WORK/init.log" "$WORK.failed/" 2>/dev/null; "$HERE/xymon-debian-down.sh"; }' EXIT
[ -e "$WRAPPER_DIR" ] || echo "$WRAPPER_DIR" > "$WORK/created-wrapper-dir"

# The binary under test, installed as the package installs it: where the xymon user can run
# it. Checked as that user, so a lab that cannot work fails here, naming the path.
chmod 755 "$WORK"
install -D -m 755 "$HV_MONITOR_BIN" "$WORK/bin/hv_monitor"
HV_MONITOR_BIN=$WORK/bin/hv_monitor
runuser -u xymon -- test -x "$HV_MONITOR_BIN" || die "the xymon user cannot run $HV_MONITOR_BIN"

# What the guide tells the admin to copy, from this checkout.
cp "$REPO/xymon/xymonserver.d/hv-monitor.cfg" /etc/xymon/xymonserver.d/
cp "$REPO/xymon/graphs.d/hv-monitor.cfg" /etc/xymon/graphs.d/
cp "$REPO/xymon/tasks.d/hv-monitor.cfg" /etc/xymon/tasks.d/
mkdir -p "$WRAPPER_DIR"
install -m 755 "$REPO/xymon/hv_monitor-xymon-rrd.sh" "$WRAPPER_DIR/hv_monitor-xymon-rrd.sh"

# The lab's own drop-ins (sorted after ours): a private port on loopback, the binary under
# test, and no network tests or local client (they would probe and report this machine).
cat > /etc/xymon/xymonserver.d/zz-hvmon-lab.cfg <<CFG
XYMONDPORT="$PORT"
HV_MONITOR_BIN="$HV_MONITOR_BIN"
CFG
cat > /etc/xymon/tasks.d/zz-hvmon-lab.cfg <<CFG
[xymond]
	CMD xymond --listen=127.0.0.1:$PORT --pidfile=/var/run/xymon/xymond.pid --restart=\$XYMONTMP/xymond.chk --checkpoint-file=\$XYMONTMP/xymond.chk --checkpoint-interval=600 --log=\$XYMONSERVERLOGS/xymond.log --admin-senders=127.0.0.1 --store-clientlogs=!msgs
[xymonnet]
	DISABLED
[xymonnetagain]
	DISABLED
[xymonclient]
	DISABLED
[alert]
	DISABLED
CFG
set -f  # tags hold "*"
for h in $HOSTS; do
    case "$h" in *+*) echo "127.0.0.1 ${h%%+*} # noconn ${h#*+}";; *) echo "127.0.0.1 $h # noconn";; esac
done >> /etc/xymon/hosts.cfg
set +f

# What the package's init script does on "start": create_includefiles (from the package's
# /usr/share/xymon/init-common.sh) builds /var/run/xymon's include files from the .d
# directories, then start-stop-daemon starts xymonlaunch as the xymon user with the same
# arguments. The only difference: --pidfile, so that another xymonlaunch on this machine
# (other tests run private ones) does not count as "already running".
(
    set +u
    . /etc/default/xymon-client
    . /usr/share/xymon/init-common.sh
    create_includefiles
) >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; die "create_includefiles failed"; }
start-stop-daemon --exec "$BIN/xymonlaunch" --pidfile /var/run/xymon/xymonlaunch.pid \
    --chuid xymon --umask 022 --start -- \
    --config=/etc/xymon/tasks.cfg --env=/etc/xymon/xymonserver.cfg \
    --log=/var/log/xymon/xymonlaunch.log --pidfile=/var/run/xymon/xymonlaunch.pid \
    >>"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; die "start-stop-daemon could not start xymonlaunch"; }

i=0
until "$BIN/xymon" --timeout=2 "127.0.0.1:$PORT" ping >/dev/null 2>&1; do
    i=$((i+1)); [ $i -lt 150 ] || die "xymond did not answer on 127.0.0.1:$PORT (logs: $WORK.failed)"
    sleep 0.1
done
# The rrd workers attach a few seconds after xymond; until then their messages are dropped.
# Probe both channels (an NCV status, a trends data message) until both RRDs exist.
PROBE=${HOSTS%% *}; PROBE=${PROBE%%+*}
i=0
while :; do
    "$BIN/xymon" "127.0.0.1:$PORT" "status $PROBE.hvmontot green probe
labprobe : $i" >/dev/null 2>&1 || true
    "$BIN/xymon" "127.0.0.1:$PORT" "data $PROBE.trends
[labprobe.rrd]
DS:probe:GAUGE:600:U:U $i" >/dev/null 2>&1 || true
    sleep 0.3
    [ -f "/var/lib/xymon/rrd/$PROBE/hvmontot.rrd" ] && [ -f "/var/lib/xymon/rrd/$PROBE/labprobe.rrd" ] && break
    i=$((i+1)); [ $i -lt 150 ] || die "probe RRDs never appeared under /var/lib/xymon/rrd/$PROBE (logs: $WORK.failed)"
done
"$BIN/xymon" "127.0.0.1:$PORT" "drop $PROBE hvmontot" >/dev/null 2>&1 || true
rm -f "/var/lib/xymon/rrd/$PROBE/hvmontot.rrd" "/var/lib/xymon/rrd/$PROBE/labprobe.rrd"

# Apache: Debian's xymon.conf as shipped, in a private server on loopback. The CGIs run as
# www-data, as on a stock install.
M=/usr/lib/apache2/modules
cat > "$WORK/apache/apache2.conf" <<CFG
ServerRoot "$WORK/apache"
ServerName 127.0.0.1
Listen 127.0.0.1:$HTTP
PidFile $WORK/apache/apache2.pid
ErrorLog $WORK/apache/error.log
Mutex file:$WORK/apache default
User www-data
Group www-data
LoadModule mpm_prefork_module $M/mod_mpm_prefork.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule authz_host_module $M/mod_authz_host.so
LoadModule authz_user_module $M/mod_authz_user.so
LoadModule authn_core_module $M/mod_authn_core.so
LoadModule authn_file_module $M/mod_authn_file.so
LoadModule auth_basic_module $M/mod_auth_basic.so
LoadModule alias_module $M/mod_alias.so
LoadModule mime_module $M/mod_mime.so
LoadModule dir_module $M/mod_dir.so
LoadModule rewrite_module $M/mod_rewrite.so
LoadModule cgi_module $M/mod_cgi.so
TypesConfig /etc/mime.types
StartServers 2
MaxRequestWorkers 8
Include /etc/apache2/conf-available/xymon.conf
CFG
/usr/sbin/apache2 -f "$WORK/apache/apache2.conf" -k start || die "apache2 did not start (log: $WORK/apache/error.log)"
i=0
until [ -s "$WORK/apache/apache2.pid" ]; do
    i=$((i+1)); [ $i -lt 100 ] || die "apache2 wrote no pid file (log: $WORK/apache/error.log)"
    sleep 0.1
done

if [ -n "$WATCH" ]; then
    nohup sh -c "while kill -0 $WATCH 2>/dev/null; do sleep 1; done; exec '$HERE/xymon-debian-down.sh'" \
        >/dev/null 2>&1 &
    echo $! > "$WORK/watchdog.pid"
fi

echo "PORT=$PORT"
echo "HV_MONITOR_BIN=$HV_MONITOR_BIN"
echo "HTTP=http://127.0.0.1:$HTTP"
echo "RRDDIR=/var/lib/xymon/rrd"
