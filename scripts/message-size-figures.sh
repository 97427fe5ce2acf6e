#!/bin/sh
# Prints the message-size figures for BENCHMARKS.md ("Xymon message sizes in a mass failure"):
# the mass-failure matrix (100 / 2000 / 5000 crashed or blocked VMs with names of 10 / 150 /
# 1000 bytes, libvirt's test driver), built in every --format and --message kind, and per
# --max-size the largest message and the most messages one run needs. Needs libvirt (the
# test driver runs in-process); no server. Takes a few minutes: the test driver parses
# each node XML slowly.
set -eu
cd "$(dirname "$0")/.."
exec cargo bench --locked -q --bench xymon -- sizes
