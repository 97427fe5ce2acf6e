#!/bin/sh
# xymon-down.sh DIR - stop the server xymon-up.sh started in DIR: by PID only (xymonlaunch,
# the tasks it started and their children), never by name; then remove DIR.
DIR=${1:?usage: xymon-down.sh DIR}
PIDF="$DIR/run/xymonlaunch.pid"
[ -s "$PIDF" ] || exit 0
LPID=$(cat "$PIDF")
# Called by hand: the watchdog is no longer needed. Called by the watchdog: that is us.
if [ -s "$DIR/run/watchdog.pid" ] && [ "$(cat "$DIR/run/watchdog.pid")" != "$$" ]; then
    kill -TERM "$(cat "$DIR/run/watchdog.pid")" 2>/dev/null
fi

kids() { _p=$1; for f in /proc/[0-9]*/stat; do
        read -r line < "$f" 2>/dev/null || continue
        pid=${line%% *}; rest=${line##*) }; set -- $rest
        [ "$2" = "$_p" ] && echo "$pid"; done; return 0; }

ALL="$LPID"
for c in $(kids "$LPID"); do
    ALL="$ALL $c"
    for g in $(kids "$c"); do ALL="$ALL $g"; done
done
kill -TERM "$LPID" 2>/dev/null
i=0
while [ $i -lt 50 ]; do
    alive=""
    for p in $ALL; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.2; i=$((i+1))
done
if [ -n "$alive" ]; then
    for p in $alive; do kill -KILL "$p" 2>/dev/null; done
    # A forced kill leaves xymond's SysV IPC objects; their keys derive from XYMONHOME.
    if command -v ipcrm >/dev/null 2>&1 && [ -d "$DIR" ]; then
        set -- $(stat -L -c '%d %i' "$DIR")
        for id in 1 2 3 4 5 6 7 8 9 10 11; do
            key=$(printf '0x%08x' $(( ((id & 255) << 24) | (($1 & 255) << 16) | ($2 & 65535) )))
            ipcrm -M "$key" 2>/dev/null; ipcrm -S "$key" 2>/dev/null; ipcrm -Q "$key" 2>/dev/null
        done
    fi
fi
# Nothing of the server is left behind: its config, RRDs and logs go with it.
rm -rf "$DIR"
