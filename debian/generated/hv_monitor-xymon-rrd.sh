#!/bin/sh
# hv_monitor-xymon-rrd.sh - xymond_rrd's --extra-script for the hvmonrrd column.
# xymond_rrd runs "SCRIPT HOSTNAME TESTNAME FILE" through /bin/sh and cannot pass the
# subcommand itself, hence this wrapper. Install it (and hv_monitor) where the xymon user can
# run them; HV_MONITOR_BIN (set in xymonserver.cfg) overrides the binary's path.
exec "${HV_MONITOR_BIN:-/usr/bin/hv_monitor}" xymon-rrd "$@"
