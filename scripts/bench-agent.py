#!/usr/bin/env python3
"""Benchmark of the guest agent calls at 100 real guests (issue 20): what answering agents
cost a run, and what hung ones do to it and to its deadline.

On the lab's libvirtd with its guests (hvmon-linux's agent answering) and paused extra guests
up to 100 VMs, runs in turn, ROUNDS times: `hv_monitor -c` with a warm `--domain-cache`
(agents asked), the same with `--no-agent`, and `virsh domstats` of the groups hv_monitor
reports (the floor, as in scripts/bench-parallel.py). Then starts HUNG guests of its own
(tests/lab/linux-guest.sh, `hvmonbench-hung-N`) whose qemu-ga it stops inside them, and
measures `hv_monitor -c -t DEADLINE` again: its wall time against the deadline, and the VMs
its document flags `no_answer`. Prints its BENCHMARKS.md section (progress on stderr):

    scripts/benchmarks_md.py write -- scripts/bench-agent.py [--rounds 7] [--hung 2]

Needs the lab (tests/lab/libvirt-up.sh, tests/lab/linux-guest.sh start) and a release build
(built here). Leaves the extra guests as it found them and removes its own.
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks_md import produced_by

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("bench_parallel", ROOT / "scripts/bench-parallel.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
URI, GROUPS, SAME_GROUPS = bench.URI, bench.GROUPS, bench.SAME_GROUPS
LINUX_GUEST = ROOT / "tests/lab/linux-guest.sh"
# Busybox has no pidof: the guest's shell finds qemu-ga in /proc and stops it.
STOP_AGENT = ("for p in /proc/[0-9]*; do read n < $p/comm; "
              "[ \"$n\" = qemu-ga ] && kill -STOP ${p#/proc/}; done")


def virsh(*args, check=True):
    return subprocess.run(["virsh", "-q", "-c", URI, *args], check=check,
                          capture_output=True, text=True)


def agent_answers(name):
    return virsh("qemu-agent-command", name, "--timeout", "1", '{"execute":"guest-ping"}',
                 check=False).returncode == 0


def start_hung(name, directory):
    """A Linux guest of ours whose agent channel is connected and whose agent never answers."""
    env = dict(os.environ, NAME=name, GUEST_DIR=str(directory))
    subprocess.run([LINUX_GUEST, "start"], env=env, check=True, stdout=subprocess.DEVNULL)
    command = {"execute": "guest-exec",
               "arguments": {"path": "/bin/sh", "arg": ["-c", STOP_AGENT]}}
    virsh("qemu-agent-command", name, json.dumps(command))
    deadline = time.monotonic() + 30
    while agent_answers(name):
        if time.monotonic() > deadline:
            sys.exit(f"{name}: its agent still answers")
        time.sleep(0.2)


def stop_guest(name, directory):
    env = dict(os.environ, NAME=name, GUEST_DIR=str(directory))
    subprocess.run([LINUX_GUEST, "stop"], env=env, check=False, stdout=subprocess.DEVNULL)


def medians(cmd, rounds):
    runs = [bench.measure(cmd) for _ in range(rounds)]
    return statistics.median(w for w, *_ in runs), max(w for w, *_ in runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--hung", type=int, default=2, help="guests with a hung agent")
    ap.add_argument("--deadline", type=float, default=5.0, help="-t of the hung-agent runs")
    ap.add_argument("--no-build", action="store_true", help="use target/release as it is")
    args = ap.parse_args()
    provenance = produced_by(" ".join(["scripts/bench-agent.py"] + sys.argv[1:]))
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "hv_monitor"],
                       cwd=ROOT, check=True)
    hv = str(ROOT / "target/release/hv_monitor")
    if not agent_answers("hvmon-linux"):
        sys.exit("hvmon-linux's agent does not answer: tests/lab/linux-guest.sh start")

    found = bench.extra_count()
    scratch = tempfile.TemporaryDirectory(prefix="bench-agent-")
    cache = ["--domain-cache", str(Path(scratch.name) / "domains.json")]
    hung = [f"hvmonbench-hung-{i}" for i in range(1, args.hung + 1)]
    rows = []
    try:
        lab = [n for n in bench.guests() if not n.startswith("hvmon-extra-")]
        extra = max(100 - len(lab), 0)
        bench.set_extra_count(extra)
        variants = [
            ("hv_monitor -c, warm --domain-cache (agents asked)", [hv, "--uri", URI, "-c"] + cache),
            ("hv_monitor -c --no-agent, warm --domain-cache",
             [hv, "--uri", URI, "-c", "--no-agent"] + cache),
            (SAME_GROUPS, ["virsh", "-c", URI, "domstats"] + GROUPS),
        ]
        for _, cmd in variants:  # warm-up, the domain cache among it
            bench.measure(cmd)
        samples = {name: [] for name, _ in variants}
        for _ in range(args.rounds):
            for name, cmd in variants:
                samples[name].append(bench.measure(cmd)[0])
        floor = statistics.median(samples[SAME_GROUPS])
        vms = len(bench.guests())
        for name, _ in variants:
            wall = statistics.median(samples[name])
            rows.append((vms, 0, f"`{name}`", f"{wall * 1000:.1f}", f"{max(samples[name]) * 1000:.1f}",
                         f"{wall / floor:.2f}", "", ""))
            print(rows[-1], file=sys.stderr, flush=True)

        for name in hung:
            start_hung(name, Path(scratch.name))
        cmd = [hv, "--uri", URI, "-c", "-t", str(args.deadline)] + cache
        wall, worst = medians(cmd, args.rounds)
        # The same run's document, plain (-c compresses it).
        plain = [a for a in cmd if a != "-c"]
        doc = json.loads(subprocess.run(plain, check=True, capture_output=True).stdout)
        if doc["error"] != 0:
            sys.exit(f"hv_monitor with hung agents: {doc['errorString']}")
        flagged = sorted(n for n, vm in doc["data"]["VMs"].items() if vm["agent"] == "no_answer")
        answered = sum(1 for vm in doc["data"]["VMs"].values() if vm["agent"] == "answered")
        rows.append((len(doc["data"]["VMs"]), len(hung),
                     f"`hv_monitor -c -t {args.deadline:g}`, warm --domain-cache",
                     f"{wall * 1000:.1f}", f"{worst * 1000:.1f}", f"{wall / floor:.2f}",
                     ", ".join(flagged), str(answered)))
        print(rows[-1], file=sys.stderr, flush=True)
    finally:
        for name in hung:
            stop_guest(name, Path(scratch.name))
        # Back to the extra guests there were: other users of the lab count on them.
        bench.set_extra_count(found, sys.stderr)
        scratch.cleanup()

    load = os.getloadavg()
    section = [
        "## Guest agents: answering and hung (`scripts/bench-agent.py`)",
        "",
        provenance,
        "",
        "Real QEMU guests on the lab's libvirtd: the lab's, its Linux guest with a working "
        "qemu-guest-agent, paused extra ones (no agent channel) up to 100 VMs; then guests of "
        "the script's own whose agent is stopped inside them (channel connected, no answer). "
        f"Median and worst of {args.rounds} rounds run in turn, release build; load average at "
        f"the end {load[0]:.1f}. x same groups: wall time over `{SAME_GROUPS}`. With the warm "
        "domain cache, the agents of the running VMs it remembers with one are asked beside the "
        "bulk stats, so an answering agent adds next to nothing. A hung agent "
        "costs the agent timeout once, in parallel with the other calls, and the run stays "
        "inside its deadline; the hung VMs are flagged `no_answer`, the rest of their data "
        "is there.",
        "",
        "| VMs | hung agents | command | wall ms (median) | wall ms (worst) | x same groups (wall) "
        "| flagged no_answer | agents answered |",
        "|---:|---:|---|---:|---:|---:|---|---:|",
    ]
    section += [f"| {v} | {h} | {name} | {w} | {worst} | {x} | {flagged} | {answered} |"
                for v, h, name, w, worst, x, flagged, answered in rows]
    print("\n".join(section))


if __name__ == "__main__":
    main()
