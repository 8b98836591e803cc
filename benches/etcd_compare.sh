#!/usr/bin/env bash
# Snapshot save of the same data in raftwarden and in etcd, on this machine, in one run.
#
# Fills each server with N keys of 1 KiB (default 102,400 = 100 MiB) over loopback HTTP, then
# times `raftwarden operator snapshot save` and `etcdctl snapshot save` and prints both. Each
# server is a single durable node on 127.0.0.1 with a fresh data dir; both are stopped at the
# end. Installs etcd from Debian if it is missing. Bounded: a fixed number of keys, and every
# step has a timeout.
#
# Usage: benches/etcd_compare.sh [KEYS]
set -euo pipefail
keys=${1:-102400}
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
command -v etcd >/dev/null || { apt-get update -qq && apt-get install -y -qq etcd-server etcd-client >/dev/null; }
cargo build --release --quiet
bin=target/release/raftwarden
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# raftwarden
cat >"$work/rw.hcl" <<HCL
data_dir = "$work/rw"
bind_addr = "127.0.0.1"
ports { http = 24646 rpc = 24647 serf = 24648 }
server { enabled = true bootstrap_expect = 1 }
HCL
"$bin" agent -config="$work/rw.hcl" >"$work/rw.log" 2>&1 &
pids+=($!)
# etcd
etcd --data-dir "$work/etcd" --listen-client-urls http://127.0.0.1:22379 --advertise-client-urls http://127.0.0.1:22379 \
    --listen-peer-urls http://127.0.0.1:22380 --quota-backend-bytes 8589934592 >"$work/etcd.log" 2>&1 &
pids+=($!)
timeout 60 bash -c 'until curl -sf localhost:24646/v1/operator/scheduler/configuration >/dev/null; do sleep 0.2; done'
timeout 60 bash -c 'until curl -sf -X POST localhost:22379/v3/kv/range -d "{\"key\":\"AA==\"}" >/dev/null; do sleep 0.2; done'

# Fill both with the same keys and values, 32 connections each.
python3 - "$keys" <<'PY'
import base64, http.client, json, sys, threading, time
keys = int(sys.argv[1]); value = "x" * 1024
def fill(port, make, start, step):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(start, keys, step):
        method, path, body = make(i)
        c.request(method, path, body, {"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        assert r.status == 200, (port, r.status)
rw = lambda i: ("PUT", f"/v1/var/bench/k{i:07d}", json.dumps({"Items": {"v": value}}))
et = lambda i: ("POST", "/v3/kv/put", json.dumps({"key": base64.b64encode(f"bench/k{i:07d}".encode()).decode(),
                                                   "value": base64.b64encode(value.encode()).decode()}))
for name, port, make in (("raftwarden", 24646, rw), ("etcd", 22379, et)):
    t = time.time()
    ts = [threading.Thread(target=fill, args=(port, make, s, 32)) for s in range(32)]
    [x.start() for x in ts]; [x.join() for x in ts]
    dt = time.time() - t
    print(f"fill {name}: {keys} keys in {dt:.1f} s ({keys/dt:.0f} writes/s at 32 in flight)")
PY

t0=$(date +%s.%N)
NOMAD_ADDR=http://127.0.0.1:24646 timeout 600 "$bin" operator snapshot save "$work/rw.snap" >/dev/null
t1=$(date +%s.%N)
ETCDCTL_API=3 timeout 600 etcdctl --endpoints http://127.0.0.1:22379 snapshot save "$work/etcd.db" >/dev/null 2>&1
t2=$(date +%s.%N)
mib=$(python3 -c "print($keys * 1024 / 1048576)")
python3 - "$t0" "$t1" "$t2" "$mib" "$(stat -c %s "$work/rw.snap")" "$(stat -c %s "$work/etcd.db")" <<'PY'
import sys
t0, t1, t2, mib = map(float, sys.argv[1:5]); rs, es = int(sys.argv[5]), int(sys.argv[6])
print(f"raftwarden operator snapshot save: {t1-t0:.2f} s, {mib/(t1-t0):.0f} MiB/s of data, file {rs/1048576:.1f} MiB (gzip)")
print(f"etcdctl snapshot save:             {t2-t1:.2f} s, {mib/(t2-t1):.0f} MiB/s of data, file {es/1048576:.1f} MiB (bbolt copy)")
PY
