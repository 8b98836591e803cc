#!/usr/bin/env bash
# Load harness: raftwarden against etcd on this machine, in one run, with the same client.
#
# For 1 and 3 servers of each system (fresh data dirs on the same disk, loopback only, fsync on)
# it runs loadgen's modes at 1, 16 and 64 clients (each point the median of ROUNDS runs; both
# systems run side by side and their rounds alternate), then a snapshot save and restore of
# SNAP_KEYS x 1 KiB. The modes: `put` (plain writes, each client its own keys), `cas` (a CAS loop
# per client on its own key), `row` (every client writes one shared key) and `shared-cas` (every
# client races a CAS loop on one shared key; its ops/s are attempts/s, and the table adds the
# share won). It
# prints one table (ops/s, p50, p99, p99.9, server CPU per op, peak RSS, ratio to etcd), writes
# results.json and chart.svg into OUT. Every run is bounded by an op count and seconds; all
# servers it starts are stopped on exit. Installs Debian's etcd if it is missing.
#
#   benches/harness.sh                       # the full comparison
#   SERVERS="1" CLIENTS="1 64" benches/harness.sh
#   benches/harness.sh --addr http://10.0.0.5:4646 [--addr ...]   # load-test an existing cluster
#
# Settings (environment): SERVERS ("1 3"), CLIENTS ("1 16 64"), MODES ("put cas row shared-cas"), ROUNDS (3),
# SECS (5, per run), OPS (50000, per run), SNAP_KEYS (100000), OUT (target/harness), RW_BIN
# (target/release/raftwarden: the raftwarden build to measure). In round r, client i talks to
# server (i + r) mod n.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
. benches/cluster.sh
SERVERS=${SERVERS:-"1 3"}
CLIENTS=${CLIENTS:-"1 16 64"}
MODES=${MODES:-"put cas row shared-cas"}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
OPS=${OPS:-50000}
SNAP_KEYS=${SNAP_KEYS:-100000}
OUT=${OUT:-target/harness}
existing=()
while [ $# -gt 0 ]; do
    case "$1" in
        --addr) existing+=("$2"); shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 1 ;;
    esac
done

cargo build --release --quiet --bin raftwarden --example loadgen
bin=${RW_BIN:-target/release/raftwarden}
load=target/release/examples/loadgen
mkdir -p "$OUT"
results="$OUT/results.jsonl"
: >"$results"

if [ ${#existing[@]} -gt 0 ]; then
    addrs=()
    for a in "${existing[@]}"; do addrs+=(--addr "$a"); done
    for mode in $MODES; do
        for c in $CLIENTS; do
            "$load" --system raftwarden "${addrs[@]}" --mode "$mode" --clients "$c" --ops "$OPS" --secs "$SECS"
        done
    done
    exit 0
fi

command -v etcd >/dev/null || { apt-get update -qq && apt-get install -y -qq etcd-server etcd-client >/dev/null; }
work=$(mktemp -d -p "$PWD/target" harness.XXXXXX)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

# Server CPU time (ticks) summed over the given server PIDs.
cpu_ticks() {
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$t"
}
# Peak resident memory (KiB) of the largest of the given servers.
peak_rss() {
    local m=0 p v
    for p in "$@"; do
        v=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$m" ] && m=$v
    done
    echo "$m"
}

# raftwarden: server i on 127.0.0.1, ports 24<i>46/47/48.
start_raftwarden() {
    local n=$1 i
    rw_pids=()
    for i in $(seq 1 "$n"); do
        rw_config "$work/rw$i.hcl" "rw$i" "$work/rw$i" 24 "$i" "$n"
        "$bin" agent -config="$work/rw$i.hcl" >"$work/rw$i.log" 2>&1 &
        pids+=($!)
        rw_pids+=($!)
    done
    for i in $(seq 1 "$n"); do wait_api "http://127.0.0.1:24${i}46"; done
    rw_addrs=()
    for i in $(seq 1 "$n"); do rw_addrs+=(--addr "http://127.0.0.1:24${i}46"); done
}

# etcd: member i on 127.0.0.1, client port 23<i>79, peer port 23<i>80.
start_etcd() {
    local n=$1 i cluster=""
    etcd_pids=()
    for i in $(seq 1 "$n"); do cluster+="e$i=http://127.0.0.1:23${i}80,"; done
    for i in $(seq 1 "$n"); do
        etcd --name "e$i" --data-dir "$work/etcd$i" \
            --listen-client-urls "http://127.0.0.1:23${i}79" --advertise-client-urls "http://127.0.0.1:23${i}79" \
            --listen-peer-urls "http://127.0.0.1:23${i}80" --initial-advertise-peer-urls "http://127.0.0.1:23${i}80" \
            --initial-cluster "${cluster%,}" --initial-cluster-state new \
            --quota-backend-bytes 8589934592 >"$work/etcd$i.log" 2>&1 &
        pids+=($!)
        etcd_pids+=($!)
    done
    for i in $(seq 1 "$n"); do
        timeout 60 bash -c "until curl -sf -X POST 127.0.0.1:23${i}79/v3/kv/range -d '{\"key\":\"AA==\"}' >/dev/null 2>&1; do sleep 0.2; done"
    done
    etcd_addrs=()
    for i in $(seq 1 "$n"); do etcd_addrs+=(--addr "http://127.0.0.1:23${i}79"); done
}

# One measured run: loadgen's JSON line plus server CPU per op and peak RSS.
measure() {
    local system=$1 servers=$2 mode=$3 clients=$4 round=$5
    shift 5
    local before after line spids
    if [ "$system" = etcd ]; then spids=("${etcd_pids[@]}"); else spids=("${rw_pids[@]}"); fi
    before=$(cpu_ticks "${spids[@]}")
    line=$("$load" --system "$system" "$@" --mode "$mode" --clients "$clients" --ops "$OPS" --secs "$SECS")
    after=$(cpu_ticks "${spids[@]}")
    python3 - "$line" "$servers" "$round" "$before" "$after" "$(peak_rss "${spids[@]}")" >>"$results" <<'PY'
import json, os, sys
r = json.loads(sys.argv[1]); servers, rnd, before, after, rss = map(int, sys.argv[2:])
tick = os.sysconf("SC_CLK_TCK")
r.update(kind="load", servers=servers, round=rnd, cpu_ms_per_op=(after - before) * 1000 / tick / max(r["ops"], 1),
         peak_rss_mib=rss / 1024)
print(json.dumps(r))
PY
    tail -n1 "$results" >&2
}

# The `--addr URL` pairs given, rotated by round number: client i talks to server (i + round)
# mod n, so over the rounds a single client meets the leader and the followers of both systems
# alike, whichever server each system elected (a follower forwards the write to its leader).
rotated() {
    local r=$1
    shift
    local urls=() i
    while [ $# -gt 0 ]; do urls+=("$2"); shift 2; done
    for i in "${!urls[@]}"; do echo --addr "${urls[$(( (i + r) % ${#urls[@]} ))]}"; done
}

# Both systems run side by side (an idle server costs next to nothing) and their rounds
# alternate, so a change in the shared disk's or CPU's speed during the run falls on both.
for n in $SERVERS; do
    start_etcd "$n"
    start_raftwarden "$n"
    for mode in $MODES; do
        for c in $CLIENTS; do
            for r in $(seq 1 "$ROUNDS"); do
                measure etcd "$n" "$mode" "$c" "$r" $(rotated "$r" "${etcd_addrs[@]}")
                measure raftwarden "$n" "$mode" "$c" "$r" $(rotated "$r" "${rw_addrs[@]}")
            done
        done
    done
    stop_all
    rm -rf "$work"/rw* "$work"/etcd*
done

# Snapshot save and restore of SNAP_KEYS x 1 KiB, 1 server each.
snap() {
    local system=$1 what=$2 start end
    start=$(date +%s.%N)
    shift 2
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    python3 -c "import json,sys; print(json.dumps({'kind':'snapshot','system':'$system','op':'$what','keys':$SNAP_KEYS,'secs':$end-$start,'peak_rss_mib':$(peak_rss "${pids[@]}")/1024}))" >>"$results"
    tail -n1 "$results" >&2
}
if [ "$SNAP_KEYS" -gt 0 ]; then
    start_etcd 1
    "$load" --system etcd "${etcd_addrs[@]}" --mode fill --clients 32 --ops "$SNAP_KEYS" --secs 600 --value-size 1024 >&2
    snap etcd save env ETCDCTL_API=3 etcdctl --endpoints http://127.0.0.1:23179 snapshot save "$work/etcd.db"
    stop_all
    snap etcd restore env ETCDCTL_API=3 etcdctl snapshot restore "$work/etcd.db" --data-dir "$work/etcd-restored"
    start_raftwarden 1
    "$load" --system raftwarden "${rw_addrs[@]}" --mode fill --clients 32 --ops "$SNAP_KEYS" --secs 600 --value-size 1024 >&2
    snap raftwarden save env NOMAD_ADDR=http://127.0.0.1:24146 "$bin" operator snapshot save "$work/rw.snap"
    snap raftwarden restore env NOMAD_ADDR=http://127.0.0.1:24146 "$bin" operator snapshot restore "$work/rw.snap"
    stop_all
fi

python3 benches/harness_report.py "$results" "$OUT"
