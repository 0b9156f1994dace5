#!/usr/bin/env bash
# gRPC vs remoting on one broker, one run: starts mqnamesrv and mqbroker (ASYNC_FLUSH, gRPC
# endpoint on its own port) on free 127.0.0.1 ports with a scratch store, runs stele_grpc_bench
# (gRPC SendMessage with K calls in flight, ReceiveMessage + AckMessage; the same load over
# remoting through the C++ client), prints its table and RESULT lines, stops the servers by PID.
#
# usage: bench/grpc_compare.sh BUILD_DIR [DIR] [-- extra stele_grpc_bench flags]
#   BUILD_DIR  holds mqnamesrv, mqbroker and stele_grpc_bench (searched below it); builds nothing
#   DIR        scratch directory (default ./stele-bench-data/grpc); removed afterwards
# Environment: GRPC_BENCH_FLUSH [ASYNC_FLUSH] the broker's flushDiskType.
set -euo pipefail

die() {
  echo "grpc_compare: $*" >&2
  exit 1
}
[[ $# -ge 1 ]] || die "usage: $0 BUILD_DIR [DIR] [-- flags]"
build=$(cd "$1" && pwd) || die "no build directory $1"
shift
dir=./stele-bench-data/grpc
if [[ $# -ge 1 && $1 != -- ]]; then
  dir=$1
  shift
fi
[[ $# -ge 1 && $1 == -- ]] && shift
find_bin() { find "$build" -maxdepth 5 -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1; }
broker_bin=$(find_bin mqbroker)
namesrv_bin=$(find_bin mqnamesrv)
bench_bin=$(find_bin stele_grpc_bench)
[[ -n $broker_bin && -n $namesrv_bin && -n $bench_bin ]] ||
  die "mqbroker, mqnamesrv and stele_grpc_bench must be built under $build"
command -v python3 >/dev/null || die "python3 is needed (to find free ports)"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
work=$(mktemp -d "$dir/run.XXXXXX")
read -r ns_port br_port grpc_port < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')

pids=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "${pids[$i]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() {  # pid port
  local deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    kill -0 "$1" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

cat >"$work/namesrv.conf" <<EOF
listenPort=$ns_port
bindAddress=127.0.0.1
kvConfigPath=$work/kvConfig.json
EOF
"$namesrv_bin" -c "$work/namesrv.conf" >"$work/namesrv.log" 2>&1 &
pids+=($!)
wait_port "${pids[0]}" "$ns_port" || { tail -n 30 "$work/namesrv.log"; die "mqnamesrv did not start"; }

cat >"$work/broker.conf" <<EOF
brokerClusterName=GrpcBench
brokerName=broker-bench
brokerId=0
brokerIP1=127.0.0.1
bindAddress=127.0.0.1
listenPort=$br_port
grpcServerPort=$grpc_port
namesrvAddr=127.0.0.1:$ns_port
storePathRootDir=$work/store
flushDiskType=${GRPC_BENCH_FLUSH:-ASYNC_FLUSH}
autoCreateTopicEnable=false
mappedFileSizeCommitLog=1073741824
EOF
"$broker_bin" -c "$work/broker.conf" >"$work/broker.log" 2>&1 &
pids+=($!)
broker_pid=${pids[1]}
if ! wait_port "$broker_pid" "$br_port" || ! wait_port "$broker_pid" "$grpc_port"; then
  tail -n 30 "$work/broker.log"
  die "mqbroker did not listen on $br_port and $grpc_port"
fi

echo "grpc_compare: broker pid $broker_pid, remoting 127.0.0.1:$br_port, gRPC 127.0.0.1:$grpc_port" >&2
echo "+ stele_grpc_bench --grpc=127.0.0.1:$grpc_port --namesrv=127.0.0.1:$ns_port --broker-pid=$broker_pid $*" >&2
"$bench_bin" --grpc="127.0.0.1:$grpc_port" --namesrv="127.0.0.1:$ns_port" --broker-pid="$broker_pid" "$@" ||
  { tail -n 30 "$work/broker.log"; die "stele_grpc_bench failed"; }
