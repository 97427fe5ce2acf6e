#!/usr/bin/env python3
"""Soak and latency of `--watch` (issue 18) through the lab's real libvirtd.

Starts two diskless guests of its own (`hvmon-soak-0`, `-1`) and two watchers on them, as
admins run them: `hv_monitor xymon --watch --print` (stdout kept, to count its statuses) and
`hv_monitor -w --watch` (the LibreNMS cache files), both with `--interval 10`. Then:

1. Latency: LATENCY_EVENTS suspends and resumes, 2 s apart; for each, the time from `virsh`
   returning to the cache file being replaced (polled every 2 ms).
2. Soak: for SECONDS, one `virsh` shell (one connection) pauses and resumes the guests at
   RATE events a second, while VmRSS and open descriptors of both watchers (and libvirtd)
   are sampled every 10 s.
3. SIGTERM to both: exit codes and how long each took.

Prints its BENCHMARKS.md section (progress on stderr), and exits 1 when a watcher died, did
not exit 0, or grew after the warm-up (the first tenth): any descriptor, or more than 4 MiB
of RSS.

    scripts/benchmarks_md.py write -- scripts/watch-soak.py [--seconds 1500] [--rate 20]

Needs the lab (tests/lab/libvirt-up.sh) and a release build (built here).
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks_md import produced_by

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target/release/hv_monitor"
GUESTS = ["hvmon-soak-0", "hvmon-soak-1"]
INTERVAL = 10
RSS_GROWTH_LIMIT_KIB = 4096


def lab_uri():
    env = Path(os.environ.get("HVMON_LAB", "/tmp/hvmon-lab")) / "env"
    for line in env.read_text().splitlines():
        if line.startswith("HVMON_QEMU_URI="):
            return line.split("=", 1)[1]
    sys.exit(f"watch-soak: no HVMON_QEMU_URI in {env} (tests/lab/libvirt-up.sh)")


def virsh(uri, *args, check=True):
    return subprocess.run(["virsh", "-q", "-c", uri, *args], check=check,
                          capture_output=True, text=True)


def guest_xml(name):
    return (f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>"
            "<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>"
            "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>")


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def log(text):
    print(f"watch-soak: {text}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=1500)
    parser.add_argument("--rate", type=int, default=20, help="events a second")
    parser.add_argument("--latency-events", type=int, default=20)
    args = parser.parse_args()
    uri = lab_uri()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "--bins"], cwd=ROOT,
                   check=True)
    libvirtd = int((Path(os.environ.get("HVMON_LAB", "/tmp/hvmon-lab")) / "libvirtd.pid")
                   .read_text())
    work = Path(tempfile.mkdtemp(prefix="hvmon-watch-soak-"))
    watchers = {}
    try:
        for name in GUESTS:
            virsh(uri, "destroy", name, check=False)
            (work / f"{name}.xml").write_text(guest_xml(name))
            virsh(uri, "create", str(work / f"{name}.xml"))
        libvirtd_before = (rss_kib(libvirtd), fds(libvirtd))
        common = ["--uri", uri, "--vm", "hvmon-soak-*"]
        env = {k: v for k, v in os.environ.items()
               if k not in ("XYMSRV", "XYMSERVERS", "XYMONDPORT", "MACHINE", "XYMONTMP",
                            "STATE_DIRECTORY")}
        xymon_out = open(work / "xymon.out", "w")
        watchers["xymon --watch --print"] = subprocess.Popen(
            [BINARY, "xymon", "--watch", "--print", "--host", "soak", "--interval",
             str(INTERVAL), "--state", work / "state.json", *common],
            stdout=xymon_out, stderr=open(work / "xymon.err", "w"), env=env)
        cache = work / "cache.json"
        watchers["-w --watch"] = subprocess.Popen(
            [BINARY, "-w", "--watch", "-o", cache, "--interval", str(INTERVAL), *common],
            stdout=subprocess.DEVNULL, stderr=open(work / "librenms.err", "w"), env=env)
        watching_since = time.monotonic()
        while not cache.exists():
            time.sleep(0.01)
        time.sleep(1)

        log("latency")
        latencies = []
        for i in range(args.latency_events):
            before = cache.stat().st_mtime_ns
            virsh(uri, "suspend" if i % 2 == 0 else "resume", GUESTS[0])
            told = time.monotonic()
            while cache.stat().st_mtime_ns == before:
                if time.monotonic() - told > 10:
                    sys.exit(f"watch-soak: no rewrite within 10 s of event {i}")
                time.sleep(0.002)
            latencies.append(time.monotonic() - told)
            time.sleep(2)
        if args.latency_events % 2:
            virsh(uri, "resume", GUESTS[0])

        log(f"soak: {args.seconds} s at {args.rate} events/s")
        shell = subprocess.Popen(["virsh", "-q", "-c", uri], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        samples = {name: [] for name in watchers}
        libvirtd_samples = []
        started = time.monotonic()
        next_sample = started
        events = 0
        while time.monotonic() - started < args.seconds:
            now = time.monotonic()
            if now >= next_sample:
                for name, proc in watchers.items():
                    if proc.poll() is not None:
                        sys.exit(f"watch-soak: {name} died with {proc.returncode}")
                    samples[name].append((now - started, rss_kib(proc.pid), fds(proc.pid)))
                libvirtd_samples.append((rss_kib(libvirtd), fds(libvirtd)))
                next_sample += 10
            # One pause and one resume of each guest per step: 4 events.
            for name in GUESTS:
                shell.stdin.write(f"suspend {name}\nresume {name}\n")
            shell.stdin.flush()
            events += 2 * len(GUESTS)
            time.sleep(max(0.0, started + events / args.rate - time.monotonic()))
        shell.stdin.close()
        shell.wait()
        errors = shell.stderr.read()
        if errors.strip():
            sys.exit(f"watch-soak: virsh: {errors[:500]}")
        soak_seconds = time.monotonic() - started

        ends = {}
        for name, proc in watchers.items():
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            ends[name] = (code, time.monotonic() - t0)
        watched = time.monotonic() - watching_since
        xymon_out.close()
        printed = (work / "xymon.out").read_text()
        statuses = printed.split("status+")[1:]
        with_lines = sum(1 for s in statuses if " : " in s.split("<!-- ncv_skipend -->")[-1])
        libvirtd_after = (rss_kib(libvirtd), fds(libvirtd))
    finally:
        for proc in watchers.values():
            if proc.poll() is None:
                proc.kill()
        for name in GUESTS:
            virsh(uri, "destroy", name, check=False)
        subprocess.run(["rm", "-rf", str(work)], check=False)

    failed = []
    lines = []
    for name, rows in samples.items():
        warm = rows[max(1, len(rows) // 10)]
        last = rows[-1]
        peak = max(r[1] for r in rows)
        rss_growth = last[1] - warm[1]
        fd_growth = last[2] - warm[2]
        code, took = ends[name]
        lines.append(
            f"| `{name}` | {rows[0][1] / 1024:.1f} | {warm[1] / 1024:.1f} | {last[1] / 1024:.1f} "
            f"| {peak / 1024:.1f} | {rows[0][2]} → {warm[2]} → {last[2]} | {code} in "
            f"{took * 1000:.0f} ms |")
        if rss_growth > RSS_GROWTH_LIMIT_KIB or fd_growth > 0 or code != 0:
            failed.append(name)

    print("## Watch mode: event latency and a soak (`scripts/watch-soak.py`)")
    print()
    print(produced_by(f"scripts/watch-soak.py --seconds {args.seconds} --rate {args.rate}"))
    print()
    print(f"Two diskless QEMU guests of its own on the lab's libvirtd, two watchers on them with "
          f"`--interval {INTERVAL}` (release build): `xymon --watch --print` and `-w --watch`.")
    print()
    print(f"**Latency**, from `virsh suspend`/`resume` returning to the LibreNMS cache file "
          f"replaced, {len(latencies)} events 2 s apart: median "
          f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
          f"(the 0.3 s settle time included).")
    print()
    print(f"**Soak**: {events} lifecycle events in {soak_seconds:.0f} s "
          f"({events / soak_seconds:.1f}/s, one `virsh` connection). In its {watched:.0f} s the "
          f"Xymon watcher printed {len(statuses)} statuses: {with_lines} with graph lines (one "
          f"per {INTERVAL} s interval) and {len(statuses) - with_lines} without (on events: "
          "events never quiet for 0.3 s give one a second).")
    print()
    print("| watcher | RSS MiB at start | after the warm-up (a tenth) | at the end | peak | "
          "open descriptors (start → warm-up → end) | SIGTERM |")
    print("|---|---|---|---|---|---|---|")
    for line in lines:
        print(line)
    print()
    print(f"libvirtd: {libvirtd_before[0] / 1024:.1f} → {libvirtd_after[0] / 1024:.1f} MiB, "
          f"{libvirtd_before[1]} → {libvirtd_after[1]} descriptors.")
    if failed:
        log(f"grew or did not end cleanly: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
