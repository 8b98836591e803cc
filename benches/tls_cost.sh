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
# Beside them, for the same server counts, two etcd clusters (same flags as benches/harness.sh):
# one plain, one with TLS everywhere and client certificates required on both sides
# (--client-cert-auth toward clients, --peer-client-cert-auth between members, https URLs),
# using the same CA, the raftwarden server certificate (SANs localhost, 127.0.0.1) and, for
# loadgen, the CLI certificate. The four clusters' rounds alternate; the table gives each
# system's TLS cost and raftwarden/etcd ratios plain and with TLS. ETCD=0 leaves etcd out.
# Installs Debian's etcd if it is missing.
#
#   benches/tls_cost.sh
#   SERVERS="3" CLIENTS="1 64" ROUNDS=5 benches/tls_cost.sh
#
# Settings (environment): SERVERS ("1 3"), CLIENTS ("64"), MODES ("put"), ROUNDS (3), SECS (5),
# OPS (50000), ETCD (1), OUT (target/tls-cost), RW_BIN (target/release/raftwarden), SKIP_BUILD (set: use the
# binaries as built).
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
. benches/cluster.sh
SERVERS=${SERVERS:-"1 3"}
CLIENTS=${CLIENTS:-"64"}
MODES=${MODES:-"put"}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
OPS=${OPS:-50000}
OUT=${OUT:-target/tls-cost}
ETCD=${ETCD:-1}

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin raftwarden --example loadgen
bin=$(realpath "${RW_BIN:-target/release/raftwarden}")
load=target/release/examples/loadgen
if [ "$ETCD" = 1 ]; then
    command -v etcd >/dev/null || { apt-get update -qq && apt-get install -y -qq etcd-server etcd-client >/dev/null; }
    kinds=(plain tls etcd-plain etcd-tls)
else
    kinds=(plain tls)
fi
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
    local kind=$1 n=$2 base i scheme=http tls_hcl="" curl_args=()
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
    addrs=()
    spids=()
    for i in $(seq 1 "$n"); do
        rw_config "$work/$kind$i.hcl" "$kind$i" "$work/$kind$i" "$base" "$i" "$n" "$tls_hcl"
        "$bin" agent -config="$work/$kind$i.hcl" >"$work/$kind$i.log" 2>&1 &
        pids+=($!)
        spids+=($!)
        addrs+=(--addr "$scheme://127.0.0.1:${base}${i}46")
    done
    for i in $(seq 1 "$n"); do wait_api "$scheme://127.0.0.1:${base}${i}46" "${curl_args[@]}"; done
}

# An etcd cluster of $2 members named $1 (etcd-plain or etcd-tls) on 127.0.0.1, member i with
# client port <base><i>79 and peer port <base><i>80; the TLS one requires client certificates
# from clients and from peers alike.
start_etcd() {
    local kind=$1 n=$2 base scheme=http i cluster="" tls_flags=() curl_args=()
    if [ "$kind" = etcd-tls ]; then
        base=25 scheme=https curl_args=("${curl_tls[@]}")
        tls_flags=(--cert-file "$pki/global-server-nomad.pem" --key-file "$pki/global-server-nomad-key.pem"
            --client-cert-auth --trusted-ca-file "$pki/nomad-agent-ca.pem"
            --peer-cert-file "$pki/global-server-nomad.pem" --peer-key-file "$pki/global-server-nomad-key.pem"
            --peer-client-cert-auth --peer-trusted-ca-file "$pki/nomad-agent-ca.pem")
    else
        base=23
    fi
    for i in $(seq 1 "$n"); do cluster+="e$i=$scheme://127.0.0.1:${base}${i}80,"; done
    addrs=()
    for i in $(seq 1 "$n"); do
        etcd --name "e$i" --data-dir "$work/$kind$i" \
            --listen-client-urls "$scheme://127.0.0.1:${base}${i}79" --advertise-client-urls "$scheme://127.0.0.1:${base}${i}79" \
            --listen-peer-urls "$scheme://127.0.0.1:${base}${i}80" --initial-advertise-peer-urls "$scheme://127.0.0.1:${base}${i}80" \
            --initial-cluster "${cluster%,}" --initial-cluster-state new \
            --quota-backend-bytes 8589934592 "${tls_flags[@]}" >"$work/$kind$i.log" 2>&1 &
        pids+=($!)
        addrs+=(--addr "$scheme://127.0.0.1:${base}${i}79")
    done
    for i in $(seq 1 "$n"); do
        timeout 60 bash -c 'until curl -sf "$@" >/dev/null 2>&1; do sleep 0.2; done' _ "${curl_args[@]}" \
            -X POST -d '{"key":"AA=="}' "$scheme://127.0.0.1:${base}${i}79/v3/kv/range"
    done
}

for n in $SERVERS; do
    start_cluster plain "$n"
    plain_addrs=("${addrs[@]}")
    start_cluster tls "$n"
    tls_addrs=("${addrs[@]}")
    if [ "$ETCD" = 1 ]; then
        start_etcd etcd-plain "$n"
        etcd_plain_addrs=("${addrs[@]}")
        start_etcd etcd-tls "$n"
        etcd_tls_addrs=("${addrs[@]}")
    fi
    for mode in $MODES; do
        for c in $CLIENTS; do
            for r in $(seq 1 "$ROUNDS"); do
                for kind in "${kinds[@]}"; do
                    case $kind in
                        plain) target=(--system raftwarden "${plain_addrs[@]}") ;;
                        tls) target=(--system raftwarden "${tls_addrs[@]}" "${tls_client[@]}") ;;
                        etcd-plain) target=(--system etcd "${etcd_plain_addrs[@]}") ;;
                        etcd-tls) target=(--system etcd "${etcd_tls_addrs[@]}" "${tls_client[@]}") ;;
                    esac
                    line=$("$load" "${target[@]}" --mode "$mode" --clients "$c" --ops "$OPS" --secs "$SECS")
                    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(tls=sys.argv[2].removeprefix("etcd-"), servers=int(sys.argv[3]), round=int(sys.argv[4])); print(json.dumps(r))' \
                        "$line" "$kind" "$n" "$r" >>"$results"
                    tail -n1 "$results" >&2
                done
            done
        done
    done
    stop_all
    rm -rf "$work"/plain* "$work"/tls[0-9]* "$work"/etcd-*
done

python3 - "$results" <<'PY'
import json, sys
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[(r["servers"], r["mode"], r["clients"], r["system"], r["tls"])].append(r)
def median(rs):
    rs = sorted(rs, key=lambda r: r["ops_per_sec"])
    return rs[(len(rs) - 1) // 2]
def ratio(a, b):
    return a / b if b else float("nan")
print(f"{'servers':>7} {'mode':>4} {'clients':>7} {'system':>10} {'plain ops/s':>11} {'tls ops/s':>9} {'cost':>6} "
      f"{'plain p99':>9} {'tls p99':>8} {'errors':>6}")
for key in sorted({k[:3] for k in runs}):
    med = {}
    for system in ("raftwarden", "etcd"):
        if key + (system, "plain") not in runs:
            continue
        p, t = median(runs[key + (system, "plain")]), median(runs[key + (system, "tls")])
        med[system] = (p["ops_per_sec"], t["ops_per_sec"])
        cost = 1 - ratio(t["ops_per_sec"], p["ops_per_sec"])
        errors = sum(r["errors"] for k in ("plain", "tls") for r in runs[key + (system, k)])
        print(f"{key[0]:>7} {key[1]:>4} {key[2]:>7} {system:>10} {p['ops_per_sec']:>11.0f} {t['ops_per_sec']:>9.0f} "
              f"{cost:>6.1%} {p['p99_ms']:>8.2f}ms {t['p99_ms']:>6.2f}ms {errors:>6}")
    if len(med) == 2:
        (rp, rt), (ep, et) = med["raftwarden"], med["etcd"]
        print(f"{key[0]:>7} {key[1]:>4} {key[2]:>7} {'rw/etcd':>10} {ratio(rp, ep):>10.2f}x {ratio(rt, et):>8.2f}x")
PY
