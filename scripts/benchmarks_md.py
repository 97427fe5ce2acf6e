#!/usr/bin/env python3
"""Writes one benchmark's section of BENCHMARKS.md, leaving every other section as it is.

Each benchmark prints its whole section in markdown on stdout: a `## HEADING` first line
(naming what it measures and the command that regenerates it), how it measures, the
`produced-by` line below, and its figures. A section runs from its `## ` line to the next
`## ` line outside a code block (or the end of the file).

    scripts/benchmarks_md.py write [--file FILE] -- COMMAND [ARG...]
        Runs COMMAND, passing its stdout through as it comes, and only if it exits 0 replaces
        the section of FILE (default: BENCHMARKS.md at the repository root) whose heading
        line is the first line of that output with the output (appended when FILE has no
        such section). The new file is written beside the old and renamed over it, so a
        failed or interrupted benchmark leaves FILE as it was.
    scripts/benchmarks_md.py produced-by COMMAND
        Prints the line every section carries so stale figures show their age: the command,
        the date and the machine (nproc, kernel, load average).

Python benchmarks import `produced_by` from here.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def produced_by(command):
    load = os.getloadavg()[0]
    return (f"_Produced by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"nproc {len(os.sched_getaffinity(0))}, Linux {os.uname().release}, "
            f"load average {load:.1f} at the start._")


def headings(lines):
    """Indexes of the `## ` lines that are not inside a fenced code block."""
    found, fenced = [], False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            found.append(i)
    return found


def check_section(text):
    """The section's heading line; exits 2 when the text is not exactly one section."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("## "):
        sys.exit("benchmarks_md: the output does not start with a `## HEADING` line: not written")
    if headings(lines) != [0]:
        extra = lines[headings(lines)[1]]
        sys.exit(f"benchmarks_md: the output has a second heading ({extra!r}): not written")
    return lines[0]


def replace_section(path, text):
    """Replaces (or appends) the section of `path` headed by the first line of `text`."""
    heading = check_section(text)
    path = Path(path)
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = old.splitlines(keepends=True)
    starts = headings(lines)
    mine = [i for i in starts if lines[i].rstrip("\n") == heading]
    if len(mine) > 1:
        sys.exit(f"benchmarks_md: {path} has {len(mine)} sections {heading!r}: not written")
    section = text.rstrip("\n") + "\n"
    if mine:
        start = mine[0]
        end = next((i for i in starts if i > start), len(lines))
        rest = lines[end:]
        new = "".join(lines[:start]) + section + ("\n" if rest else "") + "".join(rest)
    else:
        new = old.rstrip("\n") + "\n\n" + section
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write(file, command):
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        out.append(line)
    if proc.wait() != 0:
        sys.exit(f"benchmarks_md: {' '.join(command)} failed (exit {proc.returncode}): "
                 f"{file} not written")
    replace_section(file, "".join(out))
    print(f"benchmarks_md: wrote {check_section(''.join(out))!r} in {file}", file=sys.stderr)


def main():
    args = sys.argv[1:]
    usage = __doc__.split("\n\n")[2]
    if args[:1] == ["produced-by"] and len(args) == 2:
        print(produced_by(args[1]))
    elif args[:1] == ["write"]:
        args, file = args[1:], DEFAULT_FILE
        if args[:1] == ["--file"] and len(args) > 1:
            args, file = args[2:], Path(args[1])
        if args[:1] == ["--"]:
            args = args[1:]
        if not args:
            sys.exit(f"usage:\n{usage}")
        write(file, args)
    else:
        sys.exit(f"usage:\n{usage}")


if __name__ == "__main__":
    main()
