#!/bin/sh
# xymon-debian-down.sh - undo xymon-debian-up.sh: stop its Apache, the Xymon server and the
# client of xymon-debian-client.sh (by PID only, never by name), then put /etc/xymon,
# /var/lib/xymon, /var/log/xymon and /var/run/xymon back exactly as they were saved, and remove
# the extra-script wrapper if the run installed it.
WORK=/tmp/hvmon-debxy
[ -e "$WORK/backup.tar" ] || exit 0

# Called by hand: the watchdog is no longer needed. Called by the watchdog: that is us.
if [ -s "$WORK/watchdog.pid" ] && [ "$(cat "$WORK/watchdog.pid")" != "$$" ]; then
    kill -TERM "$(cat "$WORK/watchdog.pid")" 2>/dev/null
fi

kids() { ps -o pid= --ppid "$1"; }
descendants() { for c in $(kids "$1"); do echo "$c"; descendants "$c"; done; }
stop_tree() {
    root=$1; all="$root $(descendants "$root")"
    kill -TERM "$root" 2>/dev/null
    i=0
    while [ $i -lt 50 ]; do
        alive=""
        for p in $all; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
        [ -z "$alive" ] && return 0
        sleep 0.2; i=$((i+1))
    done
    for p in $alive; do kill -KILL "$p" 2>/dev/null; done
}

[ -s "$WORK/apache/apache2.pid" ] && stop_tree "$(cat "$WORK/apache/apache2.pid")"
[ -s /var/run/xymon/xymonlaunch.pid ] && stop_tree "$(cat /var/run/xymon/xymonlaunch.pid)"
# The client of xymon-debian-client.sh, if one was started.
[ -s /var/run/xymon/clientlaunch.pid ] && stop_tree "$(cat /var/run/xymon/clientlaunch.pid)"

rm -rf /etc/xymon /var/lib/xymon /var/log/xymon /var/run/xymon
tar -C / -xpf "$WORK/backup.tar"
[ -s "$WORK/created-wrapper-dir" ] && rm -rf "$(cat "$WORK/created-wrapper-dir")"
rm -rf "$WORK"
