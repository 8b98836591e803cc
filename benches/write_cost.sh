#!/usr/bin/env bash
# Disk cost of a write on one durable server: bytes written and fsync-family calls per write.
#
# Starts one release server (fresh data dir, loopback), drives it with examples/loadgen at each
# client count, and reads the server's /proc/<pid>/io write_bytes and an `strace -c` of its
# fsync-family and write calls around each run. write_bytes counts pages as they are dirtied:
# each fdatasync of a partly filled page counts that page (4 KiB) again, which is the floor at
# one client. strace slows every system call: the ops/s it prints are not the harness figures.
#
#   benches/write_cost.sh                 # plain puts at 1 and 64 clients, 2000 and 10000 ops
#   CLIENTS="1 16 64" MODE=cas OPS=5000 benches/write_cost.sh
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
CLIENTS=${CLIENTS:-"1 64"}
MODE=${MODE:-put}
OPS=${OPS:-}
command -v strace >/dev/null || apt-get install -y -qq strace >/dev/null
cargo build --release --quiet --bin raftwarden --example loadgen
work=$(mktemp -d -p "$PWD/target" write_cost.XXXXXX)
cat >"$work/rw.hcl" <<HCL
name = "rw1"
data_dir = "$work/rw1"
bind_addr = "127.0.0.1"
ports { http = 24146 rpc = 24147 serf = 24148 }
server {
  enabled = true
  bootstrap_expect = 1
}
HCL
target/release/raftwarden agent -config="$work/rw.hcl" >"$work/rw.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
timeout 60 bash -c "until curl -sf 127.0.0.1:24146/v1/operator/scheduler/configuration >/dev/null 2>&1; do sleep 0.2; done"

written() { awk '/^write_bytes/ {print $2}' "/proc/$pid/io"; }
for c in $CLIENTS; do
    ops=${OPS:-$([ "$c" -eq 1 ] && echo 2000 || echo 10000)}
    strace -f -c -o "$work/strace" -e trace=fsync,fdatasync,sync_file_range,pwrite64,write,writev -p "$pid" 2>/dev/null &
    tracer=$!
    sleep 1
    before=$(written)
    line=$(target/release/examples/loadgen --system raftwarden --addr http://127.0.0.1:24146 --mode "$MODE" \
        --clients "$c" --ops "$ops" --secs 120)
    after=$(written)
    sleep 0.5
    kill -INT "$tracer"
    wait "$tracer" 2>/dev/null || true
    done_ops=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ops"])' "$line")
    echo "== $MODE, $c clients, $done_ops writes (under strace: $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%.0f ops/s" % r["ops_per_sec"])' "$line"))"
    echo "bytes written per write: $(( (after - before) / done_ops ))"
    awk -v n="$done_ops" '$NF ~ /^(fsync|fdatasync|sync_file_range|pwrite64|write|writev)$/ { printf "%s per write: %.3f\n", $NF, $4 / n }' "$work/strace"
done
