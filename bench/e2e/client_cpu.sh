#!/usr/bin/env bash
# The C++ client's own CPU per message as a ratio of the broker's (issue 11), in one run: a fresh
# mqnamesrv + mqbroker (ASYNC_FLUSH) on 127.0.0.1, then stele_e2e_bench --broker-pid=<broker>
# for each case, through the C++ client (--client=stele) and, for reference, through the lean raw
# wire client (--client=raw) on the same broker. The bench measures its own CPU with getrusage and
# the broker's from /proc/<pid>/stat over the same window; cpu_ratio_vs_peer = client CPU/msg over
# broker CPU/msg.
#
# usage: bench/e2e/client_cpu.sh BUILD_DIR [DIR]
#   DIR: scratch directory (default ./stele-bench-data/client-cpu), removed at the end.
# Environment: E2E_SECONDS [5], E2E_WARMUP [1], E2E_SIZE [1024], E2E_QUEUES [8], E2E_THREADS [16],
# E2E_INFLIGHT [64], E2E_CONNS [4].
# Output: one markdown table on stdout; RESULT lines and logs in DIR/raw (kept on failure).
set -euo pipefail

die() {
  echo "client_cpu: $*" >&2
  exit 1
}
[[ $# -ge 1 ]] || die "usage: $0 BUILD_DIR [DIR]"
build=$(cd "$1" && pwd) || die "no build directory $1"
dir=${2:-./stele-bench-data/client-cpu}
find_bin() { find "$build" -maxdepth 5 -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1; }
broker_bin=$(find_bin mqbroker)
namesrv_bin=$(find_bin mqnamesrv)
bench_bin=$(find_bin stele_e2e_bench)
[[ -n $broker_bin && -n $namesrv_bin && -n $bench_bin ]] ||
  die "mqbroker, mqnamesrv and stele_e2e_bench must be built under $build"
secs=${E2E_SECONDS:-5}
warm=${E2E_WARMUP:-1}
size=${E2E_SIZE:-1024}
queues=${E2E_QUEUES:-8}
threads=${E2E_THREADS:-16}
inflight=${E2E_INFLIGHT:-64}
conns=${E2E_CONNS:-4}

rm -rf "$dir"
raw=$dir/raw
mkdir -p "$raw"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port pid name
  local i
  for ((i = 0; i < 1000; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
    kill -0 "$2" 2>/dev/null || break
    sleep 0.01
  done
  die "$3 did not start (log in $raw)"
}
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

ns_port=$(free_port)
"$namesrv_bin" --listenPort="$ns_port" --bindAddress=127.0.0.1 \
  --kvConfigPath="$dir/namesrv-kv.json" >"$raw/namesrv.log" 2>&1 &
pids+=($!)
wait_port "$ns_port" "$!" mqnamesrv
port=$(free_port)
cat >"$raw/broker.conf" <<CONF
brokerClusterName=DefaultCluster
brokerName=client-cpu
brokerIP1=127.0.0.1
bindAddress=127.0.0.1
listenPort=$port
grpcServerPort=0
storePathRootDir=$dir/store
flushDiskType=ASYNC_FLUSH
mappedFileSizeCommitLog=1073741824
autoCreateTopicEnable=true
defaultTopicQueueNums=$queues
maxInflightSends=10000
namesrvAddr=127.0.0.1:$ns_port
CONF
"$broker_bin" -c "$raw/broker.conf" >"$raw/broker.log" 2>&1 &
broker_pid=$!
pids+=("$broker_pid")
wait_port "$port" "$broker_pid" mqbroker
"$bench_bin" --mode=ready --broker="127.0.0.1:$port" --since-epoch="$EPOCHREALTIME" \
  --topic=E2EBenchTopic --queues="$queues" --size="$size" >/dev/null 2>"$raw/ready.log" ||
  die "the broker did not answer a send (see $raw/ready.log)"

common=(--broker="127.0.0.1:$port" --broker-pid="$broker_pid" --topic=E2EBenchTopic
  --queues="$queues" --size="$size" --seconds="$secs" --warmup="$warm")
stele=(--client=stele --namesrv="127.0.0.1:$ns_port")
run() { # name args...
  local name=$1
  shift
  echo "[$(date +%T)] $name: stele_e2e_bench $*" >&2
  "$bench_bin" "$@" >"$raw/$name.txt" 2>"$raw/$name.log" || die "$name failed (see $raw/$name.log)"
  grep -q '^RESULT' "$raw/$name.txt" || die "$name printed no RESULT"
}
field() { # name key
  local kv
  for kv in $(grep '^RESULT' "$raw/$1.txt" | head -n 1); do
    [[ $kv == "$2="* ]] && { echo "${kv#*=}"; return; }
  done
  echo "?"
}
run raw_sync --mode=broker "${common[@]}" --client=raw --threads="$threads"
run cl_sync --mode=broker "${common[@]}" "${stele[@]}" --threads="$threads"
run raw_async --mode=broker "${common[@]}" --client=raw --inflight="$inflight" --connections="$conns"
run cl_async --mode=broker "${common[@]}" "${stele[@]}" --inflight="$inflight" --connections="$conns"
run raw_consume --mode=consume "${common[@]}" --client=raw --threads="$queues"
run cl_consume --mode=consume "${common[@]}" "${stele[@]}"

echo "| case ($size B bodies, $queues queues, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)) | msg/s | client CPU µs/msg | broker CPU µs/msg | client ÷ broker |"
echo "|---|---|---|---|---|"
row() { # label name
  echo "| $1 | $(field "$2" tps) | $(field "$2" cpu_us_per_msg) | $(field "$2" peer_cpu_us_per_msg) | $(field "$2" cpu_ratio_vs_peer) |"
}
row "produce, $threads sync senders, raw wire client" raw_sync
row "produce, $threads sync senders, C++ client (Producer::Send)" cl_sync
row "produce, $inflight in flight / $conns conns, raw wire client" raw_async
row "produce, $inflight in flight / $conns conns, C++ client (SendAsync)" cl_async
row "consume, raw wire client ($queues pull threads)" raw_consume
row "consume, C++ client (PushConsumer)" cl_consume
cleanup
pids=()
rm -rf "$dir/store"
