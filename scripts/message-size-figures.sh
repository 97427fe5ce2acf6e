#!/bin/sh
# Prints the BENCHMARKS.md section "Xymon message sizes in a mass failure": the mass-failure
# matrix (100 / 2000 / 5000 crashed or blocked VMs with names of 10 / 150 / 1000 bytes,
# libvirt's test driver), built in every --format and --message kind, and per --max-size the
# largest message and the most messages one run needs (`cargo bench --bench xymon -- sizes`).
# Needs libvirt (the test driver runs in-process); no server. Takes a few minutes: the test
# driver parses each node XML slowly. To write the section:
#   scripts/benchmarks_md.py write -- scripts/message-size-figures.sh
set -eu
cd "$(dirname "$0")/.."
# Built first, so the table below is not held up (or interleaved) by compiler output.
cargo bench --locked -q --bench xymon --no-run
cat <<EOF
## Xymon message sizes in a mass failure (\`scripts/message-size-figures.sh\`)

$(scripts/benchmarks_md.py produced-by scripts/message-size-figures.sh)

Hosts whose VMs are all crashed or blocked (libvirt test driver, runstate 6 and 2 in turn;
names of 10, 150 and 1000 bytes with \`&\`, \`<\`, \`>\`), each collected once and built in
every \`--format\` (splitncv, ncv, rrd-script) and \`--message\` kind (status, data, both), with
the longest host name (253) and column (60) the CLI takes. Per \`--max-size\`: the largest
message over all formats and kinds, and the most messages one run needs. "collect" is the
test driver's time over the default connections (up to 4), each of which parses the node
XML anew, so it says little about real hosts. The end-to-end test of the same matrix through
a real xymond + xymond_rrd is \`tests/xymon_mass_failure.rs\`.

EOF
cargo bench --locked -q --bench xymon -- sizes
cat <<'EOF'

The last row says whether the largest message of all fits its `--max-size`; every message
ends with the end marker (the bench asserts it). Names past 66 bytes do not make messages
larger: graph names use the VM key (at most 66 characters) and the status page shows at most
64 characters of a name, then its key.
EOF
