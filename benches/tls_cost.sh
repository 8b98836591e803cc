#!/usr/bin/env bash
# What TLS costs: raftwarden's write throughput in plain text and with TLS everywhere, in one
# run, with the same client (examples/loadgen.rs).
#
# For 1 and 3 servers, two clusters run side by side on loopback (fresh data dirs on the same
# disk, fsync on): one without a tls block, one with
#   tls { http = true  rpc = true  verify_server_hostname = true  verify_https_client = true }
# (HTTPS with a CLI certificate toward the API, mutual TLS for raft and forwarding). Their
# rounds alternate; each point is the median of ROUNDS runs of plain writes (PUT /v1/var/<key>).
# Certificates are made by `raftwarden tls ca create` / `tls cert create`. Every run is bounded
# by an op count and seconds; all servers it starts are stopped on exit.
#
#   benches/tls_cost.sh
#   SERVERS="3" CLIENTS="1 64" ROUNDS=5 benches/tls_cost.sh
#
# Settings (environment): SERVERS ("1 3"), CLIENTS ("64"), MODES ("put"), ROUNDS (3), SECS (5),
# OPS (50000), OUT (target/tls-cost), RW_BIN (target/release/raftwarden), SKIP_BUILD (set: use the
# binaries as built).
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
SERVERS=${SERVERS:-"1 3"}
CLIENTS=${CLIENTS:-"64"}
MODES=${MODES:-"put"}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
OPS=${OPS:-50000}
OUT=${OUT:-target/tls-cost}

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin raftwarden --example loadgen
bin=$(realpath "${RW_BIN:-target/release/raftwarden}")
load=target/release/examples/loadgen
mkdir -p "$OUT" target
results="$OUT/results.jsonl"
: >"$results"
work=$(mktemp -d -p "$PWD/target" tls-cost.XXXXXX)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

pki="$work/pki"
mkdir -p "$pki"
(cd "$pki" && "$bin" tls ca create >/dev/null && "$bin" tls cert create -server >/dev/null &&
    "$bin" tls cert create -cli >/dev/null)
tls_client=(--ca-cert "$pki/nomad-agent-ca.pem" --client-cert "$pki/global-cli-nomad.pem"
    --client-key "$pki/global-cli-nomad-key.pem")
curl_tls=(--cacert "$pki/nomad-agent-ca.pem" --cert "$pki/global-cli-nomad.pem" --key "$pki/global-cli-nomad-key.pem")

# A cluster of $2 servers named $1 (plain or tls) on 127.0.0.1, ports <base><i>46/47/48.
start_cluster() {
    local kind=$1 n=$2 base i joins="" scheme=http tls_hcl="" curl_args=()
    if [ "$kind" = tls ]; then
        base=27 scheme=https curl_args=("${curl_tls[@]}")
        tls_hcl="tls {
  http = true
  rpc = true
  verify_server_hostname = true
  verify_https_client = true
  ca_file = \"$pki/nomad-agent-ca.pem\"
  cert_file = \"$pki/global-server-nomad.pem\"
  key_file = \"$pki/global-server-nomad-key.pem\"
}"
    else
        base=26
    fi
    for i in $(seq 1 "$n"); do joins+="\"127.0.0.1:${base}${i}48\","; done
    addrs=()
    spids=()
    for i in $(seq 1 "$n"); do
        cat >"$work/$kind$i.hcl" <<HCL
name = "$kind$i"
data_dir = "$work/$kind$i"
bind_addr = "127.0.0.1"
ports { http = ${base}${i}46 rpc = ${base}${i}47 serf = ${base}${i}48 }
server {
  enabled = true
  bootstrap_expect = $n
  server_join { retry_join = [${joins%,}] }
}
$tls_hcl
HCL
        "$bin" agent -config="$work/$kind$i.hcl" >"$work/$kind$i.log" 2>&1 &
        pids+=($!)
        spids+=($!)
        addrs+=(--addr "$scheme://127.0.0.1:${base}${i}46")
    done
    for i in $(seq 1 "$n"); do
        timeout 60 bash -c 'until curl -sf "$@" >/dev/null 2>&1; do sleep 0.2; done' _ "${curl_args[@]}" \
            "$scheme://127.0.0.1:${base}${i}46/v1/operator/scheduler/configuration"
    done
}

for n in $SERVERS; do
    start_cluster plain "$n"
    plain_addrs=("${addrs[@]}")
    start_cluster tls "$n"
    tls_addrs=("${addrs[@]}")
    for mode in $MODES; do
        for c in $CLIENTS; do
            for r in $(seq 1 "$ROUNDS"); do
                for kind in plain tls; do
                    if [ "$kind" = tls ]; then
                        line=$("$load" --system raftwarden "${tls_addrs[@]}" "${tls_client[@]}" --mode "$mode" \
                            --clients "$c" --ops "$OPS" --secs "$SECS")
                    else
                        line=$("$load" --system raftwarden "${plain_addrs[@]}" --mode "$mode" \
                            --clients "$c" --ops "$OPS" --secs "$SECS")
                    fi
                    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(tls=sys.argv[2], servers=int(sys.argv[3]), round=int(sys.argv[4])); print(json.dumps(r))' \
                        "$line" "$kind" "$n" "$r" >>"$results"
                    tail -n1 "$results" >&2
                done
            done
        done
    done
    stop_all
    rm -rf "$work"/plain* "$work"/tls[0-9]*
done

python3 - "$results" <<'PY'
import json, sys
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[(r["servers"], r["mode"], r["clients"], r["tls"])].append(r)
def median(rs):
    rs = sorted(rs, key=lambda r: r["ops_per_sec"])
    return rs[(len(rs) - 1) // 2]
print(f"{'servers':>7} {'mode':>4} {'clients':>7} {'plain ops/s':>11} {'tls ops/s':>9} {'cost':>6} {'plain p99':>9} {'tls p99':>8} {'errors':>6}")
for key in sorted({k[:3] for k in runs}):
    p, t = median(runs[key + ("plain",)]), median(runs[key + ("tls",)])
    cost = 1 - t["ops_per_sec"] / p["ops_per_sec"] if p["ops_per_sec"] else float("nan")
    errors = sum(r["errors"] for k in ("plain", "tls") for r in runs[key + (k,)])
    print(f"{key[0]:>7} {key[1]:>4} {key[2]:>7} {p['ops_per_sec']:>11.0f} {t['ops_per_sec']:>9.0f} {cost:>6.1%} "
          f"{p['p99_ms']:>8.2f}ms {t['p99_ms']:>6.2f}ms {errors:>6}")
PY
