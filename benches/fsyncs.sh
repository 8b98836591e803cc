#!/usr/bin/env bash
# Fsync-family system calls per write at 64 writes in flight, on one durable single server.
#
# How: the cas_write bench binary has a bounded counting mode, CAS_FSYNC_WRITES=<n>: it starts
# one server in a temp dir, makes n plain scheduler writes at 64 in flight through the
# config-store actor, shuts down and exits (no criterion). This script runs that twice under
# `strace -f -c -e trace=fsync,fdatasync,sync_file_range,msync`: once with n = 0 (start-up and
# shut-down alone) and once with n = WRITES, and prints (calls with writes - calls without) /
# WRITES. strace slows every system call, so the writes/s it prints are not the bench's figures.
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

# Runs the counting mode with $1 writes; prints the fsync-family calls it made.
count() {
    CAS_FSYNC_WRITES=$1 timeout 300 strace -f -c -o "$out/strace.$1" \
        -e trace=fsync,fdatasync,sync_file_range,msync "$bin" >"$out/stdout.$1"
    # strace -c columns: % time, seconds, usecs/call, calls, [errors], syscall.
    awk '$NF ~ /^(fsync|fdatasync|sync_file_range|msync)$/ { n += $4 } END { print n + 0 }' "$out/strace.$1"
}

base=$(count 0)
loaded=$(count "$writes")
echo "start-up and shut-down alone: $base fsync-family calls"
echo "with $writes writes:           $loaded ($(cat "$out/stdout.$writes"), under strace)"
grep -E 'fsync|fdatasync|sync_file_range|msync' "$out/strace.$writes" | awk '{ print "  " $NF ": " $4 }'
awk -v b="$base" -v l="$loaded" -v w="$writes" \
    'BEGIN { printf "fsyncs per write at 64 in flight: %.3f\n", (l - b) / w }'
