#!/usr/bin/env python3
"""Benchmark of collecting a large libvirt host over several connections (issue 11).

For each guest count (the lab's 3 hvmon-* guests plus paused hvmon-extra-NNN guests from
tests/lab/extra-guests.sh), runs in turn, ROUNDS times: `hv_monitor -c -j 1` (serial),
`hv_monitor -c` (default connections), `hv_monitor -c -j K` for each extra K asked for, and
`virsh domstats` (libvirt's own floor: one serial bulk call). Prints medians of wall time, CPU
(user+sys) and peak RSS, and the libvirt calls each makes per VM, counted from libvirt's own
client log (RPC_CLIENT_MSG_TX_QUEUE lines: one per remote call, connection set-up included).
Prints its BENCHMARKS.md section (progress on stderr); to write it there:

    scripts/benchmarks_md.py write -- scripts/bench-parallel.py [--counts 3,20,50,100]
        [--rounds 7] [--ks 2,4,8] [--before OLD_HV_MONITOR]

Needs the lab (tests/lab/libvirt-up.sh) and a release build (built here). Starts the extra
guests it needs and removes them all when done; the hvmon-* lab guests are never touched.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks_md import produced_by

ROOT = Path(__file__).resolve().parent.parent
URI = os.environ.get("HVMON_QEMU_URI", "qemu:///system")
EXTRA = ROOT / "tests/lab/extra-guests.sh"


def measure(cmd, env=None):
    """Wall seconds, CPU seconds and peak RSS (KiB) of one run."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def calls(cmd):
    """libvirt remote calls one run makes."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "client.log"
        env = dict(os.environ, LIBVIRT_LOG_FILTERS="1:rpc.netclient",
                   LIBVIRT_LOG_OUTPUTS=f"1:file:{log}")
        measure(cmd, env)
        return log.read_text().count("RPC_CLIENT_MSG_TX_QUEUE")


def guests():
    out = subprocess.run(["virsh", "-q", "-c", URI, "list", "--all", "--name"],
                         check=True, capture_output=True, text=True).stdout
    return [n for n in out.split() if n]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--counts", default="3,20,50,100")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ks", default="2,4,8", help="further -j values to measure")
    ap.add_argument("--before", help="an earlier hv_monitor binary: its calls per VM are counted "
                    "(not timed: it may be a debug build)")
    ap.add_argument("--no-build", action="store_true", help="use target/release as it is")
    args = ap.parse_args()
    provenance = produced_by(" ".join(["scripts/bench-parallel.py"] + sys.argv[1:]))
    counts = [int(c) for c in args.counts.split(",")]
    ks = [int(k) for k in args.ks.split(",") if k]

    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "hv_monitor"],
                       cwd=ROOT, check=True)
    hv = str(ROOT / "target/release/hv_monitor")
    lab = [n for n in guests() if not n.startswith("hvmon-extra-")]
    variants = [("hv_monitor -c -j 1", [hv, "--uri", URI, "-c", "-j", "1"]),
                ("hv_monitor -c (default K)", [hv, "--uri", URI, "-c"])]
    variants += [(f"hv_monitor -c -j {k}", [hv, "--uri", URI, "-c", "-j", str(k)]) for k in ks]
    variants.append(("virsh domstats", ["virsh", "-c", URI, "domstats"]))

    rows = []
    subprocess.run([EXTRA, "stop"], check=True, stdout=sys.stderr)
    try:
        for count in counts:
            subprocess.run([EXTRA, "start", str(max(count - len(lab), 0))], check=True,
                           stdout=subprocess.DEVNULL)
            vms = len(guests())
            for _, cmd in variants:  # warm-up: page cache, libvirtd's caches
                measure(cmd)
            samples = {name: [] for name, _ in variants}
            for _ in range(args.rounds):
                for name, cmd in variants:
                    samples[name].append(measure(cmd))
            floor = statistics.median(w for w, _, _ in samples["virsh domstats"])
            for name, cmd in variants:
                wall = statistics.median(w for w, _, _ in samples[name])
                cpu = statistics.median(c for _, c, _ in samples[name])
                rss = statistics.median(r for _, _, r in samples[name])
                n = calls(cmd)
                rows.append((vms, f"`{name}`", f"{wall * 1000:.1f}", f"{cpu * 1000:.1f}",
                             f"{rss / 1024:.1f}", n, f"{wall / floor:.2f}"))
                print(rows[-1], file=sys.stderr, flush=True)
            if args.before:
                n = calls([args.before, "--uri", URI, "-c"])
                rows.append((vms, "before (`hv_monitor -c` of --before, calls only)",
                             "", "", "", n, ""))
                print(rows[-1], file=sys.stderr, flush=True)
    finally:
        subprocess.run([EXTRA, "stop"], check=True, stdout=sys.stderr)

    load = os.getloadavg()
    section = [
        "## Large libvirt hosts: serial vs several connections (`scripts/bench-parallel.py`)",
        "",
        provenance,
        "",
        f"Real QEMU guests (TCG, the extra ones paused, 64 MiB) on the lab's libvirtd, "
        f"median of {args.rounds} rounds run in turn, release build; "
        f"load average at the end {load[0]:.1f} (other builds share the machine). Calls: "
        "libvirt remote calls one run makes (its client log), connection set-up included. "
        "x domstats: wall time over one `virsh domstats` of the same round set.",
        "",
        "| VMs | command | wall ms | CPU ms | peak RSS MiB | libvirt calls | calls/VM | x domstats |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    section += [f"| {v} | {name} | {w} | {c} | {r} | {n} | {n / v:.2f} | {x} |"
                for v, name, w, c, r, n, x in rows]
    print("\n".join(section))


if __name__ == "__main__":
    main()
