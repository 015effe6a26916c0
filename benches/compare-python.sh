#!/usr/bin/env bash
# The classic job in Rust and in Python, at the same sizes and worker count, in one command:
#
#   benches/compare-python.sh [W]        # W: worker processes (default: the machine's cores)
#   WORDS="500000 5000000" RUNS=5 benches/compare-python.sh
#
# Builds `examples/classic.rs` (its own worker), then runs each program RUNS times
# per size, alternating (the Rust job on 2 MiB pages, then on 4 KiB pages, then the
# single-process floor: the same steps on a `Vec` and on MADV_HUGEPAGE memory), and writes every `RESULT` line to
# $CARGO_TARGET_DIR/compare-python.txt (the README's results come from there, via
# benches/report.py). Python runs its queue-vs-shared-memory hand-off once per size.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
workers=${1:-$(nproc)}
words=${WORDS:-500000 5000000}
runs=${RUNS:-5}

cargo build --quiet --release --features solutions --example classic
out="$target/compare-python.txt"
: >"$out"
for n in $words; do
    for run in $(seq "$runs"); do
        "$target/release/examples/classic" "$n" "$workers" | tee -a "$out"
        SHM_KATA_PAGES=4k "$target/release/examples/classic" "$n" "$workers" | tee -a "$out"
        "$target/release/examples/classic" "$n" floor | tee -a "$out"
        handoff=$([[ $run == 1 ]] || echo --no-handoff)
        python3 benches/classic.py "$n" "$workers" $handoff | tee -a "$out"
    done
done
python3 benches/report.py --compare-only "$out"
