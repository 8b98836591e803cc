#!/usr/bin/env bash
# Runs each fuzz target in turn (never two at once), SECONDS each (default 240), at the lowest
# CPU priority, on the kept corpus; a crash stops the run and leaves its input in
# fuzz/artifacts/<target>/. Usage: bash fuzz/run.sh [SECONDS] [TARGET...]
# Stable Rust runs cargo-fuzz through RUSTC_BOOTSTRAP=1 (cargo-fuzz passes nightly -Z flags);
# `cargo install cargo-fuzz` first. Each target's full libFuzzer log: fuzz/logs/<target>.log.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-240}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "== $t: ${secs}s"
    RUSTC_BOOTSTRAP=1 nice -n 19 cargo fuzz run -O "$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"logs/$t.log" 2>&1
    rc=$?
    grep -E '^#[0-9]+ +(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "logs/$t.log"
    if [ $rc -ne 0 ]; then
        grep -E 'panicked|SUMMARY|Test unit written' "logs/$t.log"
        echo "== $t: failed (exit $rc; crash input in fuzz/artifacts/$t/)"
        exit 1
    fi
done
