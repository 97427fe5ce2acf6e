#!/usr/bin/env python3
"""LibreNMS job benchmark: one `hv_monitor -c` run against libvirt's test driver.

For 10, 100, 500 and 2000 domains (node XMLs in the lab mix of tests/support/node_xml.rs,
written by `--example node_xml`): wall time (median of RUNS), peak RSS, libvirt's own time
to load the node XML (`virsh list`), and the size of the plain and `-c` output; the same
against the lab's real guests when HVMON_QEMU_URI is set (/tmp/hvmon-lab/env); then the
largest VM count whose `-c` output still fits one SNMP reply over UDP (65,438 bytes) and the
extend output limit (102,399 bytes). Builds the release binary and the node generator first.
Prints its BENCHMARKS.md section; to write it there:

    scripts/benchmarks_md.py write -- scripts/bench-librenms.py [RUNS=5]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

from benchmarks_md import produced_by

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "hv_monitor")
# The default connections: one on the test driver (scripts/bench-parallel.py measures
# several on real guests).
HV = [BIN]
GEN = os.path.join(ROOT, "target", "release", "examples", "node_xml")
UDP_LIMIT, TOTAL_LIMIT = 65_438, 102_399
COUNTS = (10, 100, 500, 2000)


def timed(cmd):
    """One run: (seconds, peak RSS in KiB, stdout bytes)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # stderr kept for a failure: the size warnings past the SNMP limits are expected.
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"bench-librenms: {' '.join(cmd)} failed: {err.read().decode(errors='replace')}")
    return elapsed, usage.ru_maxrss, out


class Bench:
    def __init__(self, work, runs):
        self.work, self.runs = work, runs

    def node(self, n):
        path = os.path.join(self.work, f"node-{n}.xml")
        if not os.path.exists(path):
            subprocess.run([GEN, str(n), path], check=True, stdout=subprocess.DEVNULL)
        return "test://" + path

    def compressed_size(self, uri, *extra):
        return len(timed([*HV, "--uri", uri, "-c", *extra])[2])

    def largest_fitting(self, limit, *extra):
        lo, hi = 1, 64
        while self.compressed_size(self.node(hi), *extra) <= limit:
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.compressed_size(self.node(mid), *extra) <= limit:
                lo = mid
            else:
                hi = mid
        return lo

    def row(self, label, uri):
        runs = [timed([*HV, "--uri", uri, "-c"]) for _ in range(self.runs)]
        wall = statistics.median(r[0] for r in runs) * 1000
        rss = max(r[1] for r in runs) / 1024
        virsh = statistics.median(timed(["virsh", "-c", uri, "list", "--all"])[0]
                                  for _ in range(self.runs)) * 1000
        plain = len(timed([*HV, "--uri", uri])[2])
        small = len(runs[0][2])
        trimmed = self.compressed_size(uri, "--no-devices")
        fits = "yes" if small <= UDP_LIMIT else "no"
        return (f"| {label} | {wall:,.0f} ms | {rss:.0f} MiB | {virsh:,.0f} ms | {plain:,} B "
                f"| {small:,} B | {fits} | {trimmed:,} B |")


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    provenance = produced_by(f"scripts/bench-librenms.py {runs}")
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "--bins",
                    "--example", "node_xml"], cwd=ROOT, check=True)
    lab = os.environ.get("HVMON_QEMU_URI")
    with tempfile.TemporaryDirectory(prefix="hvmon-bench-") as work:
        bench = Bench(work, runs)
        rows = [bench.row(str(n), bench.node(n)) for n in COUNTS]
        if lab:
            rows.append(bench.row(f"lab guests (`{lab}`)", lab))
        udp = [bench.largest_fitting(UDP_LIMIT, *extra) for extra in ((), ("--no-devices",))]
        total = [bench.largest_fitting(TOTAL_LIMIT, *extra) for extra in ((), ("--no-devices",))]
    guests = ", and the lab's real QEMU guests (last row)" if lab else ""
    method = (
        f"`hv_monitor -c` (release build) against libvirt's test driver, node XMLs in the "
        f"lab mix of `tests/support/node_xml.rs` (1-3 disks and 1-2 NICs per VM, mixed "
        f"states){guests}, over one connection: the default on the test driver, which parses "
        "its node XML anew for each (`scripts/bench-parallel.py` measures several "
        "connections on real guests). Wall time is the "
        f"median of {runs} runs, peak RSS the largest of them; `virsh list --all` is libvirt's "
        f"own time to connect and list the same URI (median of {runs}), most of which, on the "
        "test driver, is loading the node XML; sizes are from one run each.")
    print(f"""## LibreNMS output by VM count (`scripts/bench-librenms.py`)

{provenance}

{textwrap.fill(method, 92, break_long_words=False, break_on_hyphens=False)}

| VMs | wall | peak RSS | `virsh list --all` | plain JSON | `-c` | fits one UDP reply | `-c --no-devices` |
|---|---:|---:|---:|---:|---:|:---:|---:|""")
    print("\n".join(rows))
    fits = (f"Largest VM count whose `-c` output fits one UDP reply ({UDP_LIMIT:,} B): "
            f"**{udp[0]:,}** ({udp[1]:,} with `--no-devices`); under snmpd's extend cut "
            f"({TOTAL_LIMIT:,} B): **{total[0]:,}** ({total[1]:,} with `--no-devices`). Sizes "
            "move a little between runs: the test driver's counters follow the clock.")
    print()
    print(textwrap.fill(fits, 92, break_long_words=False, break_on_hyphens=False))


if __name__ == "__main__":
    main()
