#!/usr/bin/env python3
"""Benchmark of collecting a large libvirt host, against libvirt's own floor (issues 11, 22).

For each guest count (the lab's hvmon-* guests plus paused hvmon-extra-NNN guests from
tests/lab/extra-guests.sh), runs in turn, ROUNDS times: `hv_monitor -c -j 1` (serial),
`hv_monitor -c` (default connections), both again with a warm `--domain-cache` (the domain
XML fetched only when a domain changed, as with -w or the Xymon job), `hv_monitor -c -j K`
for each extra K asked for, and the two references: `virsh domstats` of the groups hv_monitor
reports (`--state --cpu-total --balloon --vcpu --block --interface`: one serial bulk call of
the same data, the floor) and plain `virsh domstats` (every group). Prints medians of wall
time, CPU (user+sys) and peak RSS, libvirtd's CPU per run (its /proc/PID/stat, mean over the
rounds: other clients of a shared libvirtd add to it), and the libvirt calls each makes per VM,
counted from libvirt's own client log (RPC_CLIENT_MSG_TX_QUEUE lines: one per remote call,
connection set-up included). Prints its BENCHMARKS.md section (progress on stderr); to write
it there:

    scripts/benchmarks_md.py write -- scripts/bench-parallel.py [--counts 3,20,50,100]
        [--rounds 7] [--ks 2,4,8] [--before OLD_HV_MONITOR]

Needs the lab (tests/lab/libvirt-up.sh) and a release build (built here). Starts the extra
guests it needs and, when done, leaves as many as it found (the lab is shared); the hvmon-*
lab guests are never touched.
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
# The stats groups hv_monitor asks for (src/collect/libvirt/bulk.rs), as virsh names them.
GROUPS = ["--state", "--cpu-total", "--balloon", "--vcpu", "--block", "--interface"]
SAME_GROUPS = "virsh domstats " + " ".join(GROUPS)


def libvirtd_ticks():
    """libvirtd's user+system CPU so far, in clock ticks; None when it is not local."""
    pids = subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True, text=True).stdout.split()
    if len(pids) != 1:
        return None
    try:
        fields = Path(f"/proc/{pids[0]}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15


def measure(cmd, env=None):
    """Wall seconds, CPU seconds, peak RSS (KiB) and libvirtd's CPU ticks of one run."""
    ticks = libvirtd_ticks()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    after = libvirtd_ticks()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {err}")
    daemon = None if ticks is None or after is None else after - ticks
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, daemon


def calls(cmd):
    """libvirt remote calls one run makes."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "client.log"
        env = dict(os.environ, LIBVIRT_LOG_FILTERS="1:rpc.netclient",
                   LIBVIRT_LOG_OUTPUTS=f"1:file:{log}")
        measure(cmd, env)
        return log.read_text().count("RPC_CLIENT_MSG_TX_QUEUE")


def set_extra_count(n, out=subprocess.DEVNULL):
    """Exactly N paused hvmon-extra-NNN guests: starts the missing ones, destroys the rest."""
    subprocess.run([EXTRA, "start", str(n)], check=True, stdout=out)
    subprocess.run([EXTRA, "trim", str(n)], check=True, stdout=out)


def extra_count():
    return sum(1 for n in guests() if n.startswith("hvmon-extra-"))


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
    scratch = tempfile.TemporaryDirectory(prefix="bench-parallel-")
    cache = lambda name: ["--domain-cache", str(Path(scratch.name) / name)]
    variants = [("hv_monitor -c -j 1", [hv, "--uri", URI, "-c", "-j", "1"]),
                ("hv_monitor -c (default K)", [hv, "--uri", URI, "-c"]),
                ("hv_monitor -c -j 1, warm --domain-cache",
                 [hv, "--uri", URI, "-c", "-j", "1"] + cache("serial.json")),
                ("hv_monitor -c (default K), warm --domain-cache",
                 [hv, "--uri", URI, "-c"] + cache("default.json"))]
    variants += [(f"hv_monitor -c -j {k}, warm --domain-cache",
                  [hv, "--uri", URI, "-c", "-j", str(k)] + cache(f"j{k}.json")) for k in ks]
    variants.append((SAME_GROUPS, ["virsh", "-c", URI, "domstats"] + GROUPS))
    variants.append(("virsh domstats", ["virsh", "-c", URI, "domstats"]))

    rows = []
    found = extra_count()
    try:
        for count in counts:
            extra = max(count - len(lab), 0)
            set_extra_count(extra)
            vms = len(guests())
            for _, cmd in variants:  # warm-up: page cache, libvirtd's caches, the XML caches
                measure(cmd)
            samples = {name: [] for name, _ in variants}
            for _ in range(args.rounds):
                for name, cmd in variants:
                    samples[name].append(measure(cmd))
            tick = os.sysconf("SC_CLK_TCK")

            def summary(name):
                s = samples[name]
                daemon = [d for *_, d in s if d is not None]
                return (statistics.median(w for w, *_ in s),
                        statistics.median(c for _, c, *_ in s),
                        statistics.median(r for _, _, r, _ in s),
                        sum(daemon) / len(daemon) / tick if daemon else None)

            floor_wall, _, _, floor_daemon = summary(SAME_GROUPS)
            all_wall = summary("virsh domstats")[0]
            for name, cmd in variants:
                wall, cpu, rss, daemon = summary(name)
                n = calls(cmd)
                ratio = (f"{daemon / floor_daemon:.2f}"
                         if daemon is not None and floor_daemon else "")
                rows.append((vms, f"`{name}`", f"{wall * 1000:.1f}", f"{cpu * 1000:.1f}",
                             "" if daemon is None else f"{daemon * 1000:.0f}",
                             f"{rss / 1024:.1f}", n, f"{wall / floor_wall:.2f}", ratio,
                             f"{wall / all_wall:.2f}"))
                print(rows[-1], file=sys.stderr, flush=True)
            if args.before:
                n = calls([args.before, "--uri", URI, "-c"])
                rows.append((vms, "before (`hv_monitor -c` of --before, calls only)",
                             "", "", "", "", n, "", "", ""))
                print(rows[-1], file=sys.stderr, flush=True)
    finally:
        # Back to the extra guests there were: other users of the lab count on them.
        set_extra_count(found, sys.stderr)
        scratch.cleanup()

    load = os.getloadavg()
    section = [
        "## Large libvirt hosts: serial vs several connections (`scripts/bench-parallel.py`)",
        "",
        provenance,
        "",
        f"Real QEMU guests (TCG, the extra ones paused, 64 MiB) on the lab's libvirtd, "
        f"median of {args.rounds} rounds run in turn, release build; "
        f"load average at the end {load[0]:.1f} (other builds share the machine). "
        "libvirtd CPU: its user+system time per run (mean; other clients of the shared "
        "libvirtd add to it). Calls: libvirt remote calls one run makes (its client log), "
        "connection set-up included. x same groups: wall time, then libvirtd CPU, over one "
        f"`{SAME_GROUPS}` (the floor: one serial bulk call of the data hv_monitor reports); "
        "x domstats: wall time over plain `virsh domstats` (every group). `-c` alone "
        "fetches every XML (snmpd's direct mode without a cache file); a warm "
        "`--domain-cache` is what `-w`, the Xymon job and the example snmpd.conf's direct "
        "line run with.",
        "",
        "| VMs | command | wall ms | CPU ms | libvirtd CPU ms | peak RSS MiB | libvirt calls "
        "| calls/VM | x same groups (wall) | x same groups (libvirtd CPU) | x domstats (wall) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    section += [f"| {v} | {name} | {w} | {c} | {d} | {r} | {n} | {n / v:.2f} | {x} | {xd} | {xa} |"
                for v, name, w, c, d, r, n, x, xd, xa in rows]
    print("\n".join(section))


if __name__ == "__main__":
    main()
