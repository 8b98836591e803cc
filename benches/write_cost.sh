#!/usr/bin/env bash
# Disk cost of a write, raftwarden against etcd in one run: bytes written, fsync-family calls
# and the log bytes each write appends.
#
# Starts a fresh cluster of each system (for each count in SERVERS, loopback, data on the same
# disk, fsync on; Debian's etcd, installed if missing) and drives both with examples/loadgen, the
# client of benches/harness.sh, at each mode and client count (`put`, `cas`, `row`: every client
# writes one shared key, `shared-cas`: every client races a CAS loop on one shared key); the
# systems' runs alternate, so a change in
# the shared disk's speed falls on both. RW_BASE=<binary> adds a third system, another raftwarden
# build (e.g. the one before a change), measured the same way in the same run. Per write:
#
#   disk B     /proc/<pid>/io write_bytes, summed over the servers. It counts a page when it is
#              dirtied: every fsync of a partly filled page makes the next write to it count the
#              whole 4 KiB page again, which is the floor at one client for any system that
#              fsyncs each write.
#   entry B    the bytes of raft log records appended, on one server (the log is the same on
#              each): raftwarden's segment records (16-byte header + postcard entry), read from
#              raft.log/*.seg; etcd's WAL records (8-byte frame + walpb record + padding: its
#              entries, hard states and CRC records), read from member/wal/*.wal.
#   disk/entry the first divided by the second and by SERVERS (each server writes the log):
#              per server, what it writes to disk for each log byte (the target is <= 2 with 64
#              clients).
#   fsyncs     fsync, fdatasync, sync_file_range and msync calls, summed over the servers. Every
#              server runs under `strace -f --seccomp-bpf` tracing only those calls, so only they
#              stop in the tracer; it still slows each sync a little, on both systems alike.
#   ops/s      loadgen's throughput in that run; with one run per point, and syncs traced, it is
#              a rough figure (benches/harness.sh measures throughput).
#
# The table's last columns divide raftwarden's (and RW_BASE's) disk B and fsyncs by etcd's.
# A write is one of loadgen's ops: an applied write (a per-client CAS loop's first plain write
# is not counted), except in `shared-cas`, where it is an attempt, won or lost (each is a raft
# entry in both systems: etcd's failed compare and raftwarden's 409 are decided when the entry
# applies); fsyncs/won divides by the won attempts alone. After the tables, one line per server
# count says whether raftwarden's fsyncs per write at 64 clients are <= etcd's on every mode
# (issue 21's target):
#
#   SERVERS="1 3" CLIENTS=64 benches/write_cost.sh          # the issue-21 fsync check
#   benches/write_cost.sh                                  # 1 server; all modes; 1 and 64 clients
#   RW_BASE=/tmp/raftwarden.old SERVERS=3 benches/write_cost.sh
#
# Settings (environment): SERVERS (1; a list such as "1 3" measures each count in turn, a fresh
# cluster each), CLIENTS ("1 64"), MODES ("put cas row shared-cas"), ROUNDS (1),
# OPS (writes per run; 2000 with 1 client, 10000 otherwise), RW_BASE (unset), RW_BIN (the
# raftwarden binary to measure; unset: this checkout's, built in release).
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
SERVER_COUNTS=${SERVERS:-1}
CLIENTS=${CLIENTS:-"1 64"}
MODES=${MODES:-"put cas row shared-cas"}
ROUNDS=${ROUNDS:-1}
OPS=${OPS:-}
RW_BASE=${RW_BASE:-}
command -v strace >/dev/null || apt-get install -y -qq strace >/dev/null
command -v etcd >/dev/null || { apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null; }
RW_BIN=${RW_BIN:-}
if [ -z "$RW_BIN" ]; then
    cargo build --release --quiet --bin raftwarden --example loadgen
    RW_BIN=target/release/raftwarden
fi
load=target/release/examples/loadgen
[ -x "$load" ] || cargo build --release --quiet --example loadgen
work=$(mktemp -d -p "$PWD/target" write_cost.XXXXXX)
results="$work/results.jsonl"
tracers=()
servers=()
# strace ignores SIGTERM while it runs a command: stop the servers, and their tracers exit.
stop_all() {
    for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${tracers[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_all; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# Runs "$@" in the background under strace, tracing only the fsync family into $1's trace file.
run_traced() {
    local name=$1
    shift
    strace -f --seccomp-bpf -qq -e signal=none -e trace=fsync,fdatasync,sync_file_range,msync \
        -o "$work/$name.strace" "$@" >"$work/$name.log" 2>&1 &
    tracers+=($!)
}

# The PIDs of the servers that the last $1 tracers run (strace's children; called once the
# servers answer, as strace briefly forks test children of its own at start).
traced_pids() {
    local t p
    for t in "${tracers[@]: -$1}"; do
        p=$(awk '{print $1}' "/proc/$t/task/$t/children")
        servers+=("$p")
        printf '%s ' "$p"
    done
    echo
}

# record_cluster <system name> <log dir> <addr>...: the started servers' PIDs (the newest SERVERS
# traced processes), their addresses and the log directory whose records count as entry bytes.
record_cluster() {
    local system=$1 logdir=$2
    shift 2
    traced_pids "$SERVERS" >"$work/$system.pids"
    printf '%s\n' "$*" >"$work/$system.addrs"
    echo "$logdir" >"$work/$system.logdir"
}

# start_raftwarden <system name> <binary> <port digit p>: SERVERS servers on 127.0.0.1, ports 2<p><i>46-48.
start_raftwarden() {
    local system=$1 bin=$2 p=$3 n=$SERVERS i joins=""
    for i in $(seq 1 "$n"); do joins+="\"127.0.0.1:2${p}${i}48\","; done
    local addrs=()
    for i in $(seq 1 "$n"); do
        cat >"$work/$system$i.hcl" <<HCL
name = "$system$i"
data_dir = "$work/$system$i"
bind_addr = "127.0.0.1"
ports { http = 2${p}${i}46 rpc = 2${p}${i}47 serf = 2${p}${i}48 }
server {
  enabled = true
  bootstrap_expect = $n
  server_join { retry_join = [${joins%,}] }
}
HCL
        run_traced "$system$i" "$bin" agent -config="$work/$system$i.hcl"
        addrs+=("http://127.0.0.1:2${p}${i}46")
    done
    for i in $(seq 1 "$n"); do
        timeout 60 bash -c "until curl -sf 127.0.0.1:2${p}${i}46/v1/operator/scheduler/configuration >/dev/null 2>&1; do sleep 0.2; done"
    done
    record_cluster "$system" "$work/${system}1/server/raft.log" "${addrs[@]}"
}

# start_etcd: SERVERS members on 127.0.0.1, client ports 26<i>79, peer ports 26<i>80.
start_etcd() {
    local n=$SERVERS i cluster=""
    for i in $(seq 1 "$n"); do cluster+="e$i=http://127.0.0.1:26${i}80,"; done
    local addrs=()
    for i in $(seq 1 "$n"); do
        run_traced "etcd$i" etcd --name "e$i" --data-dir "$work/etcd$i" \
            --listen-client-urls "http://127.0.0.1:26${i}79" --advertise-client-urls "http://127.0.0.1:26${i}79" \
            --listen-peer-urls "http://127.0.0.1:26${i}80" --initial-advertise-peer-urls "http://127.0.0.1:26${i}80" \
            --initial-cluster "${cluster%,}" --initial-cluster-state new --quota-backend-bytes 8589934592
        addrs+=("http://127.0.0.1:26${i}79")
    done
    for i in $(seq 1 "$n"); do
        timeout 60 bash -c "until curl -sf -X POST 127.0.0.1:26${i}79/v3/kv/range -d '{\"key\":\"AA==\"}' >/dev/null 2>&1; do sleep 0.2; done"
    done
    record_cluster etcd "$work/etcd1/member/wal" "${addrs[@]}"
}

# Bytes of log records in a raftwarden log or etcd WAL directory, as "<records bytes> <last index>"
# (the index only for raftwarden). `since` counts only raftwarden records after that index, so a
# purge during a run does not hide what it appended.
log_bytes() {
    python3 - "$1" "${2:-0}" <<'PY'
import glob, os, struct, sys
d, since = sys.argv[1], int(sys.argv[2])
total, last = 0, since
if d.endswith("wal"):
    # etcd: frame u64 LE = record length (low 56 bits), pad length in bits 56-58 when bit 63 is set.
    for path in sorted(glob.glob(os.path.join(d, "*.wal"))):
        with open(path, "rb") as f:
            data = f.read()
        at = 0
        while at + 8 <= len(data):
            (frame,) = struct.unpack_from("<Q", data, at)
            if frame == 0:
                break
            n = frame & 0x00FFFFFFFFFFFFFF
            pad = (frame >> 56) & 0x7 if frame >> 63 else 0
            if at + 8 + n + pad > len(data):
                break
            total += 8 + n + pad
            at += 8 + n + pad
else:
    # raftwarden: len u32 | crc u32 | index u64 | body; a zero header ends a segment.
    for path in sorted(glob.glob(os.path.join(d, "*.seg"))):
        with open(path, "rb") as f:
            data = f.read()
        at = 0
        while at + 16 <= len(data):
            n, _crc, index = struct.unpack_from("<IIQ", data, at)
            if n == 0 or at + 16 + n > len(data):
                break
            if index > since:
                total += 16 + n
                last = max(last, index)
            at += 16 + n
print(total, last)
PY
}

sum_written() {
    local t=0 p
    for p in "$@"; do t=$((t + $(awk '/^write_bytes/ {print $2}' "/proc/$p/io"))); done
    echo "$t"
}
sum_syncs() {
    cat "$@" 2>/dev/null | grep -cE '^[0-9]+ +(fsync|fdatasync|sync_file_range|msync)\(' || true
}

# measure <system> <mode> <clients> <round>
measure() {
    local system=$1 mode=$2 clients=$3 round=$4 pids addrs dir ops kind=raftwarden
    read -r -a pids <"$work/$system.pids"
    read -r -a addrs <"$work/$system.addrs"
    dir=$(cat "$work/$system.logdir")
    [ "$system" = etcd ] && kind=etcd
    ops=${OPS:-$([ "$clients" -eq 1 ] && echo 2000 || echo 10000)}
    local args=() a
    for a in "${addrs[@]}"; do args+=(--addr "$a"); done
    local traces=("$work/$system"[0-9]*.strace)
    local bytes0 syncs0 log0 index0 line bytes1 syncs1 log1
    read -r log0 index0 < <(log_bytes "$dir" 0)
    bytes0=$(sum_written "${pids[@]}")
    syncs0=$(sum_syncs "${traces[@]}")
    line=$("$load" --system "$kind" "${args[@]}" --mode "$mode" --clients "$clients" --ops "$ops" --secs 120)
    # etcd's backend commits every 100 ms: let the last one land in this run.
    sleep 0.5
    bytes1=$(sum_written "${pids[@]}")
    syncs1=$(sum_syncs "${traces[@]}")
    if [ "$kind" = etcd ]; then
        read -r log1 _ < <(log_bytes "$dir" 0)
        log1=$((log1 - log0))
    else
        read -r log1 _ < <(log_bytes "$dir" "$index0")
    fi
    python3 - "$line" "$system" "$round" "$((bytes1 - bytes0))" "$((syncs1 - syncs0))" "$log1" "$SERVERS" >>"$results" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
system, rnd, written, syncs, logged = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
n = max(r["ops"], 1)
r.update(system=system, round=rnd, servers=int(sys.argv[7]), disk_bytes_per_write=written / n,
         fsyncs_per_write=syncs / n, fsyncs_per_won=syncs / max(r.get("won", r["ops"]), 1),
         entry_bytes_per_write=logged / n)
print(json.dumps(r))
PY
    tail -n1 "$results" >&2
}

for SERVERS in $SERVER_COUNTS; do
    systems=(etcd raftwarden)
    tracers=()
    servers=()
    rm -rf "$work"/etcd[0-9]* "$work"/raftwarden*[0-9]
    start_etcd
    start_raftwarden raftwarden "$RW_BIN" 7
    if [ -n "$RW_BASE" ]; then
        start_raftwarden raftwarden-base "$RW_BASE" 8
        systems+=(raftwarden-base)
    fi
    for mode in $MODES; do
        for c in $CLIENTS; do
            for r in $(seq 1 "$ROUNDS"); do
                for s in "${systems[@]}"; do measure "$s" "$mode" "$c" "$r"; done
            done
        done
    done
    stop_all
done

echo "servers: $SERVER_COUNTS; $(uptime)"
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
points = {}
for r in rows:
    points.setdefault((r["servers"], r["mode"], r["clients"], r["system"]), []).append(r)
med = lambda rs, k: statistics.median(x[k] for x in rs)
seen = []
for key in points:
    if key[:3] not in seen:
        seen.append(key[:3])
verdicts = {}
for servers in sorted({k[0] for k in seen}):
    print()
    print("%d server%s" % (servers, "" if servers == 1 else "s"))
    print()
    print("| mode | clients | system | ops/s | entry B/write | disk B/write | disk/entry | fsyncs/write | fsyncs/won | disk vs etcd | fsyncs vs etcd |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s_, mode, clients in seen:
        if s_ != servers:
            continue
        etcd = points.get((servers, mode, clients, "etcd"))
        for system in ("etcd", "raftwarden", "raftwarden-base"):
            rs = points.get((servers, mode, clients, system))
            if not rs:
                continue
            keys = ("entry_bytes_per_write", "disk_bytes_per_write", "fsyncs_per_write", "fsyncs_per_won")
            entry, disk, fs, won = (med(rs, k) for k in keys)
            vs = lambda k, v: "%.2f" % (v / med(etcd, k)) if etcd and med(etcd, k) else "-"
            print("| %s | %d | %s | %.0f | %.0f | %.0f | %.2f | %.3f | %.3f | %s | %s |" % (
                mode, clients, system, med(rs, "ops_per_sec"), entry, disk, disk / entry / servers if entry else 0, fs,
                won, vs("disk_bytes_per_write", disk), vs("fsyncs_per_write", fs)))
            if clients == 64 and system == "raftwarden" and etcd:
                verdicts.setdefault(servers, []).append((mode, fs, med(etcd, "fsyncs_per_write")))
print()
for servers, v in sorted(verdicts.items()):
    worse = ["%s %.3f > %.3f" % (m, r, e) for m, r, e in v if r > e]
    print("fsyncs per write at 64 clients, %d server%s, raftwarden <= etcd on every mode (%s): %s" % (
        servers, "" if servers == 1 else "s", " ".join(m for m, _, _ in v), "yes" if not worse else "NO: " + ", ".join(worse)))
PY
