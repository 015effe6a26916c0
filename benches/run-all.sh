#!/usr/bin/env bash
# Every measurement behind the README's results section, then the section itself:
#
#   benches/run-all.sh        # about ten minutes on two cores
#
# 1. `cargo bench --features benchmarks` (the reference solutions): transfer and transform, segments in /dev/shm.
# 2. The same again with the segments on a tmpfs mounted with huge=within_size (2 MiB
#    pages: 512 times fewer pages to map and unmap), if this user may mount one in a
#    private mount namespace (root, `unshare`); skipped otherwise. The mount is visible
#    to these benchmarks only and disappears with them.
# 3. The ring's round trip again with the machine loaded: one busy loop per core, so that
#    with the two sides of the round trip twice as many threads want to run as there are
#    cores (the busy loops are this script's children and end with it).
# 4. benches/compare-python.sh: the classic job in Rust and in Python.
# 5. benches/ring_queue.py: exercise 07's messages through Python's multiprocessing.Queue.
# 6. benches/report.py: writes the tables into README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
target=$(realpath "$CARGO_TARGET_DIR")

# Start from nothing, so every number in the tables comes from this one run.
rm -rf "$target/criterion/transfer" "$target/criterion/transform" "$target/criterion/messages" \
    "$target/criterion/messages-behind" "$target/criterion/round-trip" "$target/criterion-huge" \
    "$target/criterion-loaded" \
    "$target/ring-queue.txt"
cargo bench --features benchmarks

if [[ $(id -u) == 0 ]] && command -v unshare >/dev/null; then
    mnt=$(mktemp -d /tmp/shm-kata-huge.XXXXXX)
    trap 'rmdir "$mnt"' EXIT
    unshare --mount --propagation private sh -c '
        mount -t tmpfs -o huge=within_size,size=600m shm-kata-huge "$1" &&
        SHM_KATA_BENCH_DIR="$1" CRITERION_HOME="$2" cargo bench --features benchmarks
    ' sh "$mnt" "$target/criterion-huge"
else
    echo "run-all: not root (or no unshare): skipping the huge-page runs"
fi

busy=()
for _ in $(seq "$(nproc)"); do
    (while :; do :; done) &
    busy+=($!)
done
CRITERION_HOME="$target/criterion-loaded" cargo bench --features benchmarks --bench ring -- round-trip
kill "${busy[@]}"
wait "${busy[@]}" 2>/dev/null || true

benches/compare-python.sh
python3 benches/ring_queue.py | tee "$target/ring-queue.txt"
python3 benches/report.py
