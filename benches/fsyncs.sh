#!/usr/bin/env bash
# Fsync-family system calls per write at 64 writes in flight, on one durable single server.
#
# How: the cas_write bench binary has a bounded counting mode, CAS_FSYNC_WRITES=<n>: it starts
# one server in a temp dir, makes n plain writes at 64 in flight through the actors, shuts down
# and exits (no criterion); CAS_FSYNC_TARGET picks what they write: `one_row` (every write
# replaces the scheduler row, so none can share an entry) or `distinct_rows` (each writer its
# own variable, so writes that arrive together share one). For each, this script runs it twice under
# `strace -f -c -e trace=fsync,fdatasync,sync_file_range,msync`: once with n = 0 (start-up and
# shut-down alone) and once with n = WRITES, and prints (calls with writes - calls without) /
# WRITES. strace slows every system call, so the writes/s it prints are not the bench's figures.
#
# raftwarden alone, through the actors; beside etcd, through HTTP and for every loadgen mode
# (put, cas, row, shared-cas), benches/write_cost.sh counts them: SERVERS="1 3" CLIENTS=64
# benches/write_cost.sh checks issue 21's "fsyncs per write at 64 clients <= etcd's".
#
# Usage: benches/fsyncs.sh [WRITES]     (default 2000; run from anywhere in the repository)
set -euo pipefail

writes=${1:-2000}
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"

if ! command -v strace >/dev/null; then
    apt-get install -y strace >/dev/null
fi

bin=$(cargo bench --bench cas_write --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "cannot find the cas_write bench binary" >&2
    exit 1
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Runs the counting mode with $1 writes to target $2; prints the fsync-family calls it made.
count() {
    CAS_FSYNC_WRITES=$1 CAS_FSYNC_TARGET=$2 timeout 300 strace -f -c -o "$out/strace.$2.$1" \
        -e trace=fsync,fdatasync,sync_file_range,msync "$bin" >"$out/stdout.$2.$1"
    # strace -c columns: % time, seconds, usecs/call, calls, [errors], syscall.
    awk '$NF ~ /^(fsync|fdatasync|sync_file_range|msync)$/ { n += $4 } END { print n + 0 }' "$out/strace.$2.$1"
}

for target in one_row distinct_rows; do
    base=$(count 0 "$target")
    loaded=$(count "$writes" "$target")
    echo "== $target"
    echo "start-up and shut-down alone: $base fsync-family calls"
    echo "with $writes writes:           $loaded ($(cat "$out/stdout.$target.$writes"), under strace)"
    awk -v b="$base" -v l="$loaded" -v w="$writes" -v t="$target" \
        'BEGIN { printf "fsyncs per write at 64 in flight, %s: %.3f\n", t, (l - b) / w }'
done
