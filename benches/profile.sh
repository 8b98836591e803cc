#!/usr/bin/env bash
# Where the raft leader's time goes under the one-row workload: a 3-server raftwarden cluster on
# loopback, driven by examples/loadgen `--mode row` (every client writes one shared key, so no two
# writes share a raft entry) at each CLIENTS count, with `perf record` on the leader's PID for
# SECS seconds of steady load. For each point it writes under OUT:
#
#   row-c<N>.perf.data   perf's samples (kept for `perf report -i`)
#   row-c<N>.txt         loadgen's JSON line; the share of samples whose stack passes through
#                        the log append, fsync, replication, apply, redb commit, the HTTP
#                        server, the RPC client, TCP, the allocator...; then perf report
#                        --stdio: threads (comm), the top self symbols, and the top symbols
#                        with their children
#   row-c<N>.svg         a flamegraph (perf script | inferno-collapse-perf | inferno-flamegraph)
#   summary.txt          every point's .txt, one after the other
#
# Stacks: the release profile has no debug info and no frame pointers (`-C
# force-frame-pointers=yes` would need a second full release build of every crate, into its own
# target dir so the shared one is not rebuilt), but the binary keeps its symbol table and
# .eh_frame, so perf unwinds with `--call-graph dwarf` (CALLGRAPH) on the very binary the harness
# measures; a stack deeper than the copied 16 KiB is cut short ([unknown] frames at its root).
# inferno is `cargo install`ed into ~/.cargo/bin when missing (crates.io).
#
#   benches/profile.sh                       # 3 servers, 1 and 64 clients, 8 s each
#   CLIENTS=64 SECS=5 benches/profile.sh
#
# Settings (environment): SERVERS (3), CLIENTS ("1 64"), MODE (row; any loadgen mode), SECS (8),
# ROLE (leader; `follower` profiles a follower instead, the "leader" of the report),
# FREQ (299, samples/s per thread), CALLGRAPH (dwarf,16384), OUT (target/profile), RW_BIN
# (target/release/raftwarden, built when unset). Ports 25<i>46-48 on 127.0.0.1. Every process it
# starts is stopped by PID on exit; perf and each load run are bounded by SECS.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
. benches/cluster.sh
SERVERS=${SERVERS:-3}
CLIENTS=${CLIENTS:-"1 64"}
MODE=${MODE:-row}
SECS=${SECS:-8}
FREQ=${FREQ:-299}
CALLGRAPH=${CALLGRAPH:-dwarf,16384}
OUT=${OUT:-target/profile}
ROLE=${ROLE:-leader}

command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"
command -v inferno-flamegraph >/dev/null || cargo install --quiet --locked inferno
if [ -z "${RW_BIN:-}" ]; then
    cargo build --release --quiet --bin raftwarden --example loadgen
    RW_BIN=target/release/raftwarden
fi
load=target/release/examples/loadgen
[ -x "$load" ] || cargo build --release --quiet --example loadgen
mkdir -p "$OUT"
work=$(mktemp -d -p "$PWD/target" profile.XXXXXX)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

rw_pids=()
addrs=()
for i in $(seq 1 "$SERVERS"); do
    rw_config "$work/rw$i.hcl" "rw$i" "$work/rw$i" 25 "$i" "$SERVERS"
    "$RW_BIN" agent -config="$work/rw$i.hcl" >"$work/rw$i.log" 2>&1 &
    pids+=($!)
    rw_pids+=($!)
    addrs+=(--addr "http://127.0.0.1:25${i}46")
done
for i in $(seq 1 "$SERVERS"); do wait_api "http://127.0.0.1:25${i}46"; done

# The profiled server's PID: the leader's, from its RPC address (127.0.0.1:25<i>47) as
# /v1/status/leader names it, or with ROLE=follower the first server that is not the leader.
leader_pid() {
    local leader i is_leader
    leader=$(timeout 30 bash -c 'until l=$(curl -sf 127.0.0.1:25146/v1/status/leader) && [ "$l" != "\"\"" ]; do sleep 0.2; done; echo "$l"')
    for i in $(seq 1 "$SERVERS"); do
        is_leader=no
        [ "$leader" = "\"127.0.0.1:25${i}47\"" ] && is_leader=yes
        if { [ "$ROLE" = leader ] && [ $is_leader = yes ]; } || { [ "$ROLE" = follower ] && [ $is_leader = no ]; }; then
            echo "${rw_pids[$((i - 1))]} rw$i"
            return
        fi
    done
    echo "no $ROLE among the started servers (leader: $leader)" >&2
    return 1
}

# breakdown <folded stacks> <writes/s> <seconds> <role>: the profiled server's CPU time (perf samples cpu-clock,
# weighted in ns) per second and per write, then the inclusive shares of its on-CPU samples by
# what the stack passes through (a sample can count on several lines).
breakdown() {
    python3 - "$@" <<'PY'
import re, sys
parts = [
    ("raft core loop (openraft RaftCore)", r"RaftCore<.*>::runtime_loop"),
    ("in it, log write (LogFiles::write, LogFiles::append)", r"raft::store::log::LogFiles::(write|append)"),
    ("in it, fdatasync/fsync in the kernel", r"^do_fsync$"),
    ("replication to followers (ReplicationCore)", r"openraft::replication::ReplicationCore"),
    ("state machine apply (apply_batch)", r"raft::store::apply::apply_batch"),
    ("in it, redb commit", r"redb::transactions::WriteTransaction::commit"),
    ("HTTP API server (actix_http h1 dispatcher)", r"actix_http::h1::dispatcher"),
    ("outgoing HTTP (hyper client: raft RPC to the followers)", r"^hyper::proto::|^hyper_util::client::"),
    ("raft frames (wire::frames, raft::link)", r"raftwarden_actors::wire::frames|raftwarden_actors::raft::link"),
    ("TCP send (tcp_sendmsg)", r"^tcp_sendmsg$"),
    ("TCP receive (tcp_v4_rcv)", r"^tcp_v4_rcv$"),
    ("epoll_wait (its on-CPU part: entering and leaving the wait)", r"^epoll_wait$|^__x64_sys_epoll_wait$"),
    ("allocator (mimalloc)", r"^_?mi_"),
    ("metrics (raftwarden_actors::metrics)", r"raftwarden_actors::metrics::"),
    ("JSON and postcard encoding", r"serde_json::|postcard::"),
]
pats = [(name, re.compile(p)) for name, p in parts]
total, hits = 0, {name: 0 for name, _ in parts}
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip("\n").rpartition(" ")
    n = int(n)
    total += n
    frames = stack.split(";")
    for name, p in pats:
        if any(p.search(f) for f in frames):
            hits[name] += n
rate, secs = float(sys.argv[2]), float(sys.argv[3])
print("%s on CPU: %.2f s in %.0f s (%.0f%% of one core), %.2f ms per write at %.0f writes/s" % (
    sys.argv[4], total / 1e9, secs, 100 * total / 1e9 / secs, total / 1e6 / max(rate * secs, 1), rate))
for name, _ in parts:
    print("  %5.1f%%  %s" % (100 * hits[name] / max(total, 1), name))
PY
}

# The first $1 lines of stdin; it reads to the end, so the writer never dies of SIGPIPE (pipefail).
top() { awk -v n="$1" 'NR <= n'; }

for c in $CLIENTS; do
    read -r pid name < <(leader_pid) || true
    [ -n "${pid:-}" ] || { echo "no leader among the started servers" >&2; exit 1; }
    base="$OUT/$MODE-c$c"
    # The load runs 1 s before perf starts and ends after it, so perf sees only steady load.
    "$load" --system raftwarden "${addrs[@]}" --mode "$MODE" --clients "$c" --ops 100000000 --secs $((SECS + 2)) \
        >"$work/load.json" &
    loadgen=$!
    pids+=("$loadgen")
    sleep 1
    rm -f "$base.perf.data" "$base.perf.data.old"
    timeout $((SECS + 30)) perf record -q -F "$FREQ" --call-graph "$CALLGRAPH" -p "$pid" -o "$base.perf.data" \
        -- sleep "$SECS" 2>"$work/perf.err" || { cat "$work/perf.err" >&2; exit 1; }
    wait "$loadgen" || true
    timeout 900 perf script -i "$base.perf.data" 2>/dev/null | inferno-collapse-perf >"$base.folded"
    inferno-flamegraph --title "raftwarden leader, $SERVERS servers, $MODE, $c clients" <"$base.folded" >"$base.svg"
    {
        echo "== $SERVERS servers, $MODE, $c clients: $ROLE $name (pid $pid), perf $SECS s at $FREQ Hz, call graph $CALLGRAPH"
        echo "loadgen (whole run): $(cat "$work/load.json")"
        echo
        echo "-- where the $ROLE's on-CPU time goes (inclusive; one sample can count on several lines)"
        breakdown "$base.folded" "$(python3 -c 'import json, sys; print(json.load(sys.stdin)["ops_per_sec"])' <"$work/load.json")" "$SECS" "$ROLE"
        echo
        echo "-- CPU by thread (share of the $ROLE's samples)"
        timeout 600 perf report -i "$base.perf.data" --stdio --quiet --no-children --sort comm -g none --percent-limit 1 2>/dev/null
        echo
        echo "-- top self symbols"
        timeout 600 perf report -i "$base.perf.data" --stdio --quiet --no-children --sort dso,symbol -g none \
            --percent-limit 0.7 2>/dev/null | top 30
        echo
        echo "-- top symbols with children"
        timeout 600 perf report -i "$base.perf.data" --stdio --quiet --children --sort symbol -g none \
            --percent-limit 4 2>/dev/null | top 45
        echo
    } | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]*$//; s/ {3,}/  /g; /^$/N; /^\n$/D' >"$base.txt"
    cat "$base.txt" >&2
done
for c in $CLIENTS; do cat "$OUT/$MODE-c$c.txt"; done >"$OUT/summary.txt"
echo "wrote $OUT/summary.txt and $OUT/$MODE-c*.svg" >&2
