#!/usr/bin/env python3
"""LibreNMS job benchmark: one `hv_monitor -c` run against libvirt's test driver.

For 10, 100, 500 and 2000 domains (node XMLs in the lab mix of tests/support/node_xml.rs,
written by `--example node_xml`): wall time (median of RUNS), peak RSS, and the size of the
plain and `-c` output; then the largest VM count whose `-c` output still fits one SNMP reply
over UDP (65,438 bytes) and the extend output limit (102,399 bytes). Builds the release
binary and the node generator first.

usage: scripts/bench-librenms.py [RUNS=5]
"""
import os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "hv_monitor")
GEN = os.path.join(ROOT, "target", "release", "examples", "node_xml")
UDP_LIMIT, TOTAL_LIMIT = 65_438, 102_399
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
work = tempfile.mkdtemp(prefix="hvmon-bench-")


def node(n):
    path = os.path.join(work, f"node-{n}.xml")
    if not os.path.exists(path):
        subprocess.run([GEN, str(n), path], check=True, stdout=subprocess.DEVNULL)
    return "test://" + path


def run(uri, *args):
    """One run: (seconds, peak RSS in KiB, stdout bytes)."""
    start = time.perf_counter()
    # stderr: the size warnings past the SNMP limits are expected here.
    p = subprocess.Popen([BIN, "--uri", uri, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"hv_monitor failed on {uri}")
    return elapsed, usage.ru_maxrss, out


def compressed_size(n, *extra):
    return len(run(node(n), "-c", *extra)[2])


def largest_fitting(limit, *extra):
    lo, hi = 1, 64
    while compressed_size(hi, *extra) <= limit:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if compressed_size(mid, *extra) <= limit:
            lo = mid
        else:
            hi = mid
    return lo


subprocess.run(
    ["cargo", "build", "--release", "--locked", "--quiet", "--bins", "--example", "node_xml"],
    cwd=ROOT,
    check=True,
)
print(f"hv_monitor -c against the libvirt test driver, median of {RUNS} runs ({os.cpu_count()} cores)")
print(f"{'VMs':>6} {'wall ms':>9} {'peak RSS MiB':>13} {'plain bytes':>12} {'-c bytes':>9} {'fits UDP':>9} {'-c --no-devices':>16}")
for n in (10, 100, 500, 2000):
    uri = node(n)
    runs = [run(uri, "-c") for _ in range(RUNS)]
    wall = statistics.median(r[0] for r in runs) * 1000
    rss = max(r[1] for r in runs) / 1024
    plain = len(run(uri)[2])
    small = len(runs[0][2])
    trimmed = compressed_size(n, "--no-devices")
    print(f"{n:>6} {wall:>9.1f} {rss:>13.1f} {plain:>12} {small:>9} {'yes' if small <= UDP_LIMIT else 'no':>9} {trimmed:>16}")
for label, extra in (("", ()), (" with --no-devices", ("--no-devices",))):
    print(f"largest VM count in one UDP reply ({UDP_LIMIT} bytes){label}: {largest_fitting(UDP_LIMIT, *extra)}")
    print(f"largest VM count under the extend output cut ({TOTAL_LIMIT} bytes){label}: {largest_fitting(TOTAL_LIMIT, *extra)}")
