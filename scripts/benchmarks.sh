#!/bin/bash
# Regenerates the sections of BENCHMARKS.md, one benchmark after another, each through
# scripts/benchmarks_md.py (a section is replaced only when its benchmark succeeds; the
# others stay as they are).
#
#   scripts/benchmarks.sh [--robustness] [--parallel] [--agent] [--soak] [--watch] [--fuzz] [--sanitizers] [--all]
#
# Always (5 minutes in all on the 2-core lab machine, 2026-11-30, the release build included):
#   scripts/bench-librenms.py 7        LibreNMS output by VM count             ~2 min
#   cargo bench --bench xymon          Xymon messages by VM count (a private
#                                      xymond on 127.0.0.1:19845)              ~1 min
#   scripts/message-size-figures.sh    Xymon message sizes in a mass failure   ~2 min
#   scripts/bad-server-figures.sh      giving up on bad Xymon servers          ~1 min
# Only when asked (not timed here):
#   --robustness  scripts/robustness-figures.sh: root and the lab; stops the lab's libvirtd
#                 (one 5 s deadline) and a QEMU of its own with SIGSTOP         seconds
#   --parallel    scripts/bench-parallel.py: starts up to 97 extra QEMU guests on the lab's
#                 libvirtd (then back to as many as it found), 7 rounds of 9
#                 commands at 4 guest counts (both virsh references)            tens of minutes
#   --agent       scripts/bench-agent.py: the lab with its Linux guest; 100 guests, then two
#                 Linux guests of its own with a hung agent                     minutes
#   --soak        scripts/soak.sh: SOAK_RUNS (default 1000) runs, in process
#                 and through the CLI, each against 500 VMs and the lab        tens of minutes
#   --watch       scripts/watch-soak.py: the lab; --watch's event latency, then
#                 30,000 events and 150 intervals through two watchers           25 minutes
#   --fuzz        scripts/fuzz.sh: FUZZ_SECONDS (default 30) per target (17)    17 x that, + build
#   --sanitizers  scripts/stress-sanitizers.sh 250 3: root; an ASan build, 7
#                 scenarios                                                    hours
#   --all         all of the above
# The lab's env (/tmp/hvmon-lab/env, tests/lab/libvirt-up.sh) is read when there: the
# LibreNMS bench then measures the real guests too. Benchmarks that start xymond on a fixed
# port run under flock /tmp/hvmon-itest.lock, as the integration tests do.
# Exits 1 when any benchmark failed (its section left as it was), after running the rest.
set -uo pipefail
cd "$(dirname "$0")/.."
LAB=${HVMON_LAB:-/tmp/hvmon-lab}

usage() {
    sed -n '2,/^# Exits/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}
robustness=false parallel=false agent=false soak=false watch=false fuzz=false sanitizers=false
for arg in "$@"; do
    case $arg in
    --robustness) robustness=true ;;
    --parallel) parallel=true ;;
    --agent) agent=true ;;
    --soak) soak=true ;;
    --watch) watch=true ;;
    --fuzz) fuzz=true ;;
    --sanitizers) sanitizers=true ;;
    --all) robustness=true parallel=true agent=true soak=true watch=true fuzz=true sanitizers=true ;;
    *) usage ;;
    esac
done
if [ -f "$LAB/env" ]; then
    set -a
    # shellcheck source=/dev/null
    . "$LAB/env"
    set +a
fi

failed=()
section() {
    echo "== $*" >&2
    scripts/benchmarks_md.py write -- "$@" || failed+=("$*")
}

section scripts/bench-librenms.py 7
section flock /tmp/hvmon-itest.lock cargo bench --locked -q --bench xymon
section scripts/message-size-figures.sh
section scripts/bad-server-figures.sh
$robustness && section scripts/robustness-figures.sh
$parallel && section scripts/bench-parallel.py
$agent && section scripts/bench-agent.py
$soak && section scripts/soak.sh
$watch && section scripts/watch-soak.py
$fuzz && section scripts/fuzz.sh
$sanitizers && section scripts/stress-sanitizers.sh 250 3

if [ ${#failed[@]} -gt 0 ]; then
    printf 'benchmarks: failed, sections left as they were: %s\n' "${failed[@]}" >&2
    exit 1
fi
