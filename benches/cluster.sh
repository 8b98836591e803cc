# Sourced by the bench scripts (harness.sh, ab.sh, profile.sh, tls_cost.sh): how they configure
# a raftwarden server of a loopback cluster and wait for it. Not run on its own.

# rw_config FILE NAME DATA_DIR PREFIX I N [EXTRA_HCL]: writes FILE, the agent config of server I
# of an N-server cluster on 127.0.0.1: ports <PREFIX><I>46 (HTTP), 47 (RPC) and 48 (serf),
# joining the serf ports of servers 1..N; EXTRA_HCL (a tls block, say) is appended.
rw_config() {
    local file=$1 name=$2 dir=$3 pp=$4 i=$5 n=$6 extra=${7:-} j joins=""
    for j in $(seq 1 "$n"); do joins+="\"127.0.0.1:${pp}${j}48\","; done
    cat >"$file" <<HCL
name = "$name"
data_dir = "$dir"
bind_addr = "127.0.0.1"
ports { http = ${pp}${i}46 rpc = ${pp}${i}47 serf = ${pp}${i}48 }
server {
  enabled = true
  bootstrap_expect = $n
  server_join { retry_join = [${joins%,}] }
}
$extra
HCL
}

# wait_api URL [CURL_ARGS...]: until the server at URL (scheme://host:port) answers its
# scheduler configuration, for at most 60 s.
wait_api() {
    local url=$1
    shift
    timeout 60 bash -c 'url=$1; shift; until curl -sf "$@" "$url/v1/operator/scheduler/configuration" >/dev/null 2>&1; do sleep 0.2; done' \
        _ "$url" "$@"
}
