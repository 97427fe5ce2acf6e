#!/bin/bash
# The project's test command (see README): installs the Debian packages that are missing,
# starts libvirtd with real QEMU guests, runs every test, and stops what it started.
# Tests that need a service fail when CI=true and it is missing; this script starts them all
# (libvirtd here; snmpd and xymond are started by the tests themselves), so run it with CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI=${CI:-true}
export HVMON_LAB=${HVMON_LAB:-/tmp/hvmon-lab}

tests/lab/install-deps.sh
tests/lab/libvirt-up.sh
trap 'tests/lab/linux-guest.sh stop; tests/lab/extra-guests.sh stop; tests/lab/libvirt-down.sh' EXIT
# A larger host: the parallel collection is compared with the serial one over these.
export HVMON_EXTRA_GUESTS=20
tests/lab/extra-guests.sh start "$HVMON_EXTRA_GUESTS"
# A real Linux guest (hvmon-linux): balloon stats and disk traffic from inside a guest.
# tests/real_guest.rs starts one of its own from the same script for its I/O-error pause.
tests/lab/linux-guest.sh start
set -a
# shellcheck source=/dev/null
. "$HVMON_LAB/env"
set +a

cargo test --locked --no-fail-fast
# The Debian package: build, lint, install, use, purge; its Xymon test sends the QEMU guests
# above, so it runs while libvirtd is up.
tests/deb/test-package.sh
