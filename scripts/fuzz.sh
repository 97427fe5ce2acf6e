#!/usr/bin/env bash
# Runs every cargo-fuzz target (or those named) for a bounded time and prints, per target:
# seconds, executions, crashes found, corpus files. Exits 1 when any target crashed (a
# panic, a failed check, a timeout or running out of memory); the input is then in
# fuzz/artifacts/TARGET/: copy it to fuzz/regressions/TARGET/ once fixed, where
# tests/fuzz_regressions.rs replays it in every `cargo test`.
#
#   scripts/fuzz.sh [TARGET...]
#   FUZZ_SECONDS=60 scripts/fuzz.sh        # per target; default 30
#   FUZZ_SANITIZER=address scripts/fuzz.sh # default none; address needs nightly
#
# Toolchain: a rustup nightly when there is one, else stable rustc with RUSTC_BOOTSTRAP=1
# (no nightly can be downloaded on every machine); both work without a sanitizer.
#
# Inputs: fuzz/seeds/TARGET (committed, from fuzz/make-seeds.sh; read only) and
# fuzz/corpus/TARGET (what fuzzing kept, minimised with `cargo fuzz cmin` after each run so
# the next run starts where this one ended; git-ignored, megabytes). Not for CI: minutes.
# Prints its BENCHMARKS.md section (written only when nothing crashed):
#   FUZZ_SECONDS=60 scripts/benchmarks_md.py write -- scripts/fuzz.sh
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-30}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked || exit 2
fi

# The project is safe Rust: what fuzzing can find is a panic, an overflow (cargo fuzz builds
# with overflow checks), a hang or a memory blow-up, all of which libFuzzer sees without a
# sanitizer. So none by default: 5 times the executions of AddressSanitizer in the same
# time. FUZZ_SANITIZER=address needs nightly (its runtime ships only with nightly rustc).
sanitizer=${FUZZ_SANITIZER:-none}
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
elif [ "$sanitizer" = none ]; then
    # cargo-fuzz passes -Z options; RUSTC_BOOTSTRAP=1 lets stable rustc take them.
    export RUSTC_BOOTSTRAP=1
else
    echo "FUZZ_SANITIZER=$sanitizer needs a nightly toolchain (rustup toolchain list)" >&2
    exit 2
fi
# Each toolchain and sanitizer its own target directory, so none keeps rebuilding another.
target_dir=fuzz/target/${toolchain[0]:-+stable}-$sanitizer
target_dir=${target_dir/+/}
fuzz=(cargo "${toolchain[@]}" fuzz)
opts=(--sanitizer "$sanitizer" --target-dir "$target_dir")
toolchain_line="$(rustc "${toolchain[@]}" --version), sanitizer: $sanitizer, $seconds s per target"
echo "toolchain: $toolchain_line" >&2

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <("${fuzz[@]}" list)
fi
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# All at once: much faster than one cargo build per target.
if ! "${fuzz[@]}" build "${opts[@]}" >"$logs/build.log" 2>&1; then
    cat "$logs/build.log" >&2
    exit 2
fi
status=0
cat <<EOF
## Fuzzing (\`scripts/fuzz.sh\`)

$(scripts/benchmarks_md.py produced-by "FUZZ_SECONDS=$seconds FUZZ_SANITIZER=$sanitizer scripts/fuzz.sh${*:+ $*}")

Each cargo-fuzz target ($toolchain_line) run from its committed seeds and the corpus earlier
runs kept; per target: seconds, executions, crashes found, corpus files after \`cargo fuzz
cmin\`.

\`\`\`
EOF
printf '%-16s %8s %12s %8s %12s\n' target seconds executions crashes corpus_files
for t in "${targets[@]}"; do
    corpus=fuzz/corpus/$t
    artifacts=fuzz/artifacts/$t
    mkdir -p "$corpus" "$artifacts" "fuzz/seeds/$t"
    before=$(find "$artifacts" -type f | wc -l)
    start=$(date +%s)
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb/-malloc_limit_mb: an input
    # that makes the code take 2 GB is unbounded memory. libFuzzer stops at the first crash.
    "${fuzz[@]}" run "${opts[@]}" "$t" "$corpus" "fuzz/seeds/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" >"$logs/$t.log" 2>&1
    rc=$?
    elapsed=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    crashes=$(($(find "$artifacts" -type f | wc -l) - before))
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        # Not a crash libFuzzer recorded: the build or the run itself failed.
        tail -20 "$logs/$t.log" >&2
        status=1
    fi
    # Keep the committed corpus to the inputs that add coverage.
    "${fuzz[@]}" cmin "${opts[@]}" "$t" "$corpus" >/dev/null 2>&1
    files=$(find "$corpus" -type f | wc -l)
    printf '%-16s %8s %12s %8s %12s\n' "$t" "$elapsed" "${execs:-?}" "$crashes" "$files"
    if [ "$crashes" -gt 0 ]; then
        status=1
        grep -m2 -E "panicked at|ERROR: libFuzzer|SUMMARY" "$logs/$t.log" >&2
        find "$artifacts" -type f -printf '%T@ %p\n' | sort -n | tail -"$crashes" | cut -d' ' -f2- >&2
    fi
done
echo '```'
exit $status
