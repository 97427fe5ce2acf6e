# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_hv_monitor_global_optspecs
    string join \n b/backend= c/compress w/write o/output= q/quiet no-devices uri= j/connections= vm= exclude= domain-cache= no-agent watch interval= t/deadline= V/version h/help
end

function __fish_hv_monitor_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_hv_monitor_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_hv_monitor_using_subcommand
    set -l cmd (__fish_hv_monitor_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -s b -l backend -d 'Backend: libvirt or cbsd, any case (default: cbsd on FreeBSD, libvirt elsewhere)' -r
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -s o -l output -d 'Cache file path for -w' -r -F
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -l uri -d 'libvirt connection URI (default: LIBVIRT_DEFAULT_URI, then libvirt\'s own choice)' -r
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -s j -l connections -d 'libvirt connections to collect over at once, each with its share of the VMs; 1 is one serial connection, at most 8 (default: one per 16 VMs, at most 4 and two per core; one on the test driver, which loads its host anew for each connection). An extra connection that fails or hangs costs time, not the run: its VMs are collected over the first' -r
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -l vm -d 'Report only the VMs whose name matches GLOB (repeat for several: any of them); the others are not asked for stats, and totals and state counts cover those reported. `*` any characters, `?` one, `[a-z]`, `[!0-9]` one of or none of a set, `[*]` a literal `*`; the whole name, case sensitive. Quote it from the shell' -r
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -l exclude -d 'Leave out the VMs whose name matches GLOB (repeatable; same syntax as --vm, and wins over it)' -r
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -l domain-cache -d 'libvirt: keep what each domain\'s XML says in this file between runs, and fetch the XML only when the domain changed (default: OUTPUT.domains with -w, beside the counters file for `xymon`; none otherwise, e.g. under snmpd without -w, where every XML is fetched)' -r -F
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -l interval -d 'How often `-w --watch` rewrites the cache files, seconds (default 60; `xymon` has its own `--interval`)' -r
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -s t -l deadline -d 'Give up after this many seconds; snmpd\'s poller waits about 6' -r
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -s c -l compress -d 'Print gzip+base64 (one line), as LibreNMS decodes it'
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -s w -l write -d 'Also write the cache files: OUTPUT (JSON) and OUTPUT.snmp (the -c form), atomically'
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -s q -l quiet -d 'Print nothing on stdout (with -w)'
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -l no-devices -d 'Leave the per-disk and per-NIC maps empty (VM sums stay): for hosts whose -c output passes what one SNMP reply carries (see librenms/README.md, Large hosts)'
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -l no-agent -d 'Do not ask guest agents (libvirt): no guest file systems, OS or hostname from inside the guests, no read-write libvirt connection; IPs only from DHCP leases'
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -l watch -d 'Keep running: report every interval, and within about 2 s of a VM change (libvirt\'s lifecycle events: started, paused, resumed, shut down, crashed, defined, undefined...). For `xymon` (a status alone between intervals) and for `-w` (the cache files rewritten). Ends with exit 0 on SIGTERM or SIGINT'
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -s V -s v -l version -d 'Print the version'
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -f -a "xymon" -d 'Build the Xymon messages (status column and graph data) and send or print them'
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -f -a "xymon-rrd" -d 'The rrd-script handler for xymond_rrd --extra-script: read FILE, print RRD definitions and values'
complete -c hv_monitor -n "__fish_hv_monitor_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l server -d 'Xymon server: HOST, HOST:PORT, [V6]:PORT, or an http(s):// URL of xymoncgimsg.cgi; repeat for several (default: $XYMSRV, or $XYMSERVERS when $XYMSRV is 0.0.0.0). Always straight to it: proxy variables (http_proxy, https_proxy, ALL_PROXY) are ignored and an HTTP redirect is an error, not followed' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l host -d 'Host name as listed in the server\'s hosts.cfg (default: $MACHINE, else this host)' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l column -d 'Column name (default: hvmon, hvmontot for ncv, hvmonrrd for rrd-script)' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l format -d 'Graph lines: splitncv (per VM, rates), ncv (host totals, rates), rrd-script (raw counters for `xymon-rrd`)' -r -f -a "splitncv\t''
ncv\t''
rrd-script\t''"
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l message -d 'Message types: both (status for the page, every graph line in data messages: the whole status for the page), status (graph lines in the status, what does not fit in data messages), data (no column on the web page)' -r -f -a "status\t''
data\t''
both\t''"
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l interval -d 'How often this runs, seconds: sets the status lifetime and the RRD heartbeat' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l max-size -d 'Largest message, bytes; more VMs go into further messages' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l timeout -d 'Time allowed for each server, seconds: the whole exchange (connecting, the host check, every message and answer), not each network call' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l state -d 'The counters file, keeping the counters for the next run\'s rates (default: hv_monitor.HOST.COLUMN.state.json in $XYMONTMP, else $STATE_DIRECTORY, else /var/lib/hv-monitor; HOST with commas for dots; none with --print unless given)' -r -F
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l pool-warn -d 'Storage pool use, percent full, that turns the column yellow (below --pool-panic)' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l pool-panic -d 'Storage pool use, percent full, that turns the column red' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l ca-file -d 'PEM file of one or more CA certificates trusted for https:// servers besides the system\'s (SSL_CERT_FILE and SSL_CERT_DIR are not read)' -r -F
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l fs-warn -d 'A VM whose fullest guest file system (from its guest agent) is this percent used or more turns the status yellow' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l fs-panic -d '... and red from this percent (not below --fs-warn)' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -s b -l backend -d 'Backend: libvirt or cbsd, any case (default: cbsd on FreeBSD, libvirt elsewhere)' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l uri -d 'libvirt connection URI (default: LIBVIRT_DEFAULT_URI, then libvirt\'s own choice)' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -s j -l connections -d 'libvirt connections to collect over at once, each with its share of the VMs; 1 is one serial connection, at most 8 (default: one per 16 VMs, at most 4 and two per core; one on the test driver, which loads its host anew for each connection). An extra connection that fails or hangs costs time, not the run: its VMs are collected over the first' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l vm -d 'Report only the VMs whose name matches GLOB (repeat for several: any of them); the others are not asked for stats, and totals and state counts cover those reported. `*` any characters, `?` one, `[a-z]`, `[!0-9]` one of or none of a set, `[*]` a literal `*`; the whole name, case sensitive. Quote it from the shell' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l exclude -d 'Leave out the VMs whose name matches GLOB (repeatable; same syntax as --vm, and wins over it)' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l domain-cache -d 'libvirt: keep what each domain\'s XML says in this file between runs, and fetch the XML only when the domain changed (default: OUTPUT.domains with -w, beside the counters file for `xymon`; none otherwise, e.g. under snmpd without -w, where every XML is fetched)' -r -F
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -s t -l deadline -d 'Give up after this many seconds; snmpd\'s poller waits about 6' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l print -d 'Print the messages instead of sending them'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l no-host-check -d 'Do not ask the server whether it lists the host (needed when xymond runs with --ghosts=allow or refuses hostinfo from this sender)'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l no-agent -d 'Do not ask guest agents (libvirt): no guest file systems, OS or hostname from inside the guests, no read-write libvirt connection; IPs only from DHCP leases'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -l watch -d 'Keep running: report every interval, and within about 2 s of a VM change (libvirt\'s lifecycle events: started, paused, resumed, shut down, crashed, defined, undefined...). For `xymon` (a status alone between intervals) and for `-w` (the cache files rewritten). Ends with exit 0 on SIGTERM or SIGINT'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon" -s h -l help -d 'Print help'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon-rrd" -s b -l backend -d 'Backend: libvirt or cbsd, any case (default: cbsd on FreeBSD, libvirt elsewhere)' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon-rrd" -l uri -d 'libvirt connection URI (default: LIBVIRT_DEFAULT_URI, then libvirt\'s own choice)' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon-rrd" -s j -l connections -d 'libvirt connections to collect over at once, each with its share of the VMs; 1 is one serial connection, at most 8 (default: one per 16 VMs, at most 4 and two per core; one on the test driver, which loads its host anew for each connection). An extra connection that fails or hangs costs time, not the run: its VMs are collected over the first' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon-rrd" -l vm -d 'Report only the VMs whose name matches GLOB (repeat for several: any of them); the others are not asked for stats, and totals and state counts cover those reported. `*` any characters, `?` one, `[a-z]`, `[!0-9]` one of or none of a set, `[*]` a literal `*`; the whole name, case sensitive. Quote it from the shell' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon-rrd" -l exclude -d 'Leave out the VMs whose name matches GLOB (repeatable; same syntax as --vm, and wins over it)' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon-rrd" -l domain-cache -d 'libvirt: keep what each domain\'s XML says in this file between runs, and fetch the XML only when the domain changed (default: OUTPUT.domains with -w, beside the counters file for `xymon`; none otherwise, e.g. under snmpd without -w, where every XML is fetched)' -r -F
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon-rrd" -s t -l deadline -d 'Give up after this many seconds; snmpd\'s poller waits about 6' -r
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon-rrd" -l no-agent -d 'Do not ask guest agents (libvirt): no guest file systems, OS or hostname from inside the guests, no read-write libvirt connection; IPs only from DHCP leases'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon-rrd" -l watch -d 'Keep running: report every interval, and within about 2 s of a VM change (libvirt\'s lifecycle events: started, paused, resumed, shut down, crashed, defined, undefined...). For `xymon` (a status alone between intervals) and for `-w` (the cache files rewritten). Ends with exit 0 on SIGTERM or SIGINT'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand xymon-rrd" -s h -l help -d 'Print help'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand help; and not __fish_seen_subcommand_from xymon xymon-rrd help" -f -a "xymon" -d 'Build the Xymon messages (status column and graph data) and send or print them'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand help; and not __fish_seen_subcommand_from xymon xymon-rrd help" -f -a "xymon-rrd" -d 'The rrd-script handler for xymond_rrd --extra-script: read FILE, print RRD definitions and values'
complete -c hv_monitor -n "__fish_hv_monitor_using_subcommand help; and not __fish_seen_subcommand_from xymon xymon-rrd help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
