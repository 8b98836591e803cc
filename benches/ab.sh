#!/usr/bin/env bash
# A/B of two raftwarden builds, side by side in one run: for a change too small to show through
# the harness's comparison with etcd on a noisy machine.
#
# Starts one cluster of SERVERS servers from each build (fresh data dirs on the same disk,
# loopback, fsync on) and drives them with examples/loadgen, the harness's client, in
# alternating rounds (A, B, A, B, ...), so a change in the shared disk's or CPU's speed falls
# on both. Client i talks to server (i + round) mod n. Per round it prints each build's ops/s,
# p50 and server CPU per write (all its servers' user + system time over the writes); then,
# per mode and client count, the medians over the rounds and B's ratio to A. One client's rounds
# are split by whether it wrote through the leader or a follower (the builds' leaders differ).
#
#   benches/ab.sh target/before/raftwarden target/release/raftwarden
#   MODES=row CLIENTS="1 64" ROUNDS=8 benches/ab.sh A B
#
# Settings (environment): SERVERS (3), MODES ("put row"), CLIENTS (64), ROUNDS (5), SECS (4, per
# round), OPS (100000, per round). Ports 26<i>46-48 (A) and 27<i>46-48 (B) on 127.0.0.1. Every
# server it starts is stopped by PID on exit; every round is bounded by OPS and SECS.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
. benches/cluster.sh
[ $# -eq 2 ] || { echo "usage: benches/ab.sh <raftwarden build A> <raftwarden build B>" >&2; exit 2; }
SERVERS=${SERVERS:-3}
MODES=${MODES:-"put row"}
CLIENTS=${CLIENTS:-64}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-4}
OPS=${OPS:-100000}
bins=("$1" "$2")

cargo build --release --quiet --example loadgen
load=target/release/examples/loadgen
mkdir -p target
work=$(mktemp -d -p "$PWD/target" ab.XXXXXX)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_all; rm -rf "$work"' EXIT

# Build b (0 or 1): servers on ports 2<6+b><i>46-48.
start() {
    local b=$1 i pp=$((26 + $1))
    for i in $(seq 1 "$SERVERS"); do
        rw_config "$work/b$b-$i.hcl" "b$b-$i" "$work/b$b-$i" "$pp" "$i" "$SERVERS"
        "${bins[$b]}" agent -config="$work/b$b-$i.hcl" >"$work/b$b-$i.log" 2>&1 &
        pids+=($!)
        echo $! >>"$work/pids$b"
    done
    for i in $(seq 1 "$SERVERS"); do wait_api "http://127.0.0.1:${pp}${i}46"; done
}

# User + system ticks of build b's servers.
ticks() {
    local t=0 p
    while read -r p; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done <"$work/pids$1"
    echo "$t"
}

start 0
start 1
results="$work/rounds.jsonl"
for mode in $MODES; do
    for c in $CLIENTS; do
        for r in $(seq 1 "$ROUNDS"); do
            for b in 0 1; do
                addrs=()
                for i in $(seq 1 "$SERVERS"); do addrs+=(--addr "http://127.0.0.1:$((26 + b))$(((i + r) % SERVERS + 1))46"); done
                # One client talks to the first address: through the leader or a follower, whose
                # forward to the leader costs a round trip more. The two builds' leaders differ,
                # so their rounds are compared only with rounds that went the same way.
                via=all
                if [ "$c" = 1 ]; then
                    leader=$(curl -sf "http://127.0.0.1:$((26 + b))146/v1/status/leader" || true)
                    via=follower
                    [ "$leader" = "\"127.0.0.1:$((26 + b))$(((1 + r) % SERVERS + 1))47\"" ] && via=leader
                fi
                before=$(ticks "$b")
                line=$("$load" --system raftwarden "${addrs[@]}" --mode "$mode" --clients "$c" --ops "$OPS" --secs "$SECS")
                after=$(ticks "$b")
                python3 - "$line" "$via" "$b" "$r" "$before" "$after" <<'PY' | tee -a "$results"
import json, os, sys
r = json.loads(sys.argv[1]); b, rnd, before, after = map(int, sys.argv[3:])
r.update(build="AB"[b], round=rnd, via=sys.argv[2],
         cpu_ms_per_op=(after - before) * 1000 / os.sysconf("SC_CLK_TCK") / max(r["ops"], 1))
print(json.dumps(r))
PY
            done
        done
    done
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| mode | clients | via | rounds A / B | A ops/s | B ops/s | B/A | A p50 ms | B p50 ms | A CPU ms/op | B CPU ms/op | B/A |")
print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for key in dict.fromkeys((r["mode"], r["clients"], r["via"]) for r in rows):
    of = lambda b: [r for r in rows if (r["mode"], r["clients"], r["via"]) == key and r["build"] == b]
    if not of("A") or not of("B"):
        continue
    med = lambda b, f: statistics.median(r[f] for r in of(b))
    a_ops, b_ops, a_cpu, b_cpu = med("A", "ops_per_sec"), med("B", "ops_per_sec"), med("A", "cpu_ms_per_op"), med("B", "cpu_ms_per_op")
    print(f"| {key[0]} | {key[1]} | {key[2]} | {len(of('A'))} / {len(of('B'))} | {a_ops:,.0f} | {b_ops:,.0f} | "
          f"{b_ops / a_ops:.2f} | {med('A', 'p50_ms'):.2f} | {med('B', 'p50_ms'):.2f} | {a_cpu:.3f} | {b_cpu:.3f} | "
          f"{b_cpu / a_cpu:.2f} |")
PY
