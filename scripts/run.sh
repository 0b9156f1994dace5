#!/usr/bin/env bash
# The main job: installs what is missing, builds Release, and runs a name server and a broker on
# 127.0.0.1 (ports 9876 and 10911, gRPC 8081) with their data under ./stele-data (or the directory given as
# the first argument, or $STELE_DATA_DIR). Ctrl-C stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/deps.sh
cmake -S . -B build/run -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTELE_BUILD_TESTS=OFF \
  -DSTELE_BUILD_BENCH=OFF >/dev/null
cmake --build build/run --target mqnamesrv mqbroker mqadmin
bin="$root/build/run/src/apps"

data=$(realpath -m "${1:-${STELE_DATA_DIR:-./stele-data}}")
mkdir -p "$data/broker"
namesrv_port=${NAMESRV_PORT:-9876}
broker_port=${BROKER_PORT:-10911}
grpc_port=${GRPC_PORT:-8081}
metrics_port=${METRICS_PORT:-5557}
# Config files are written once; edit them to change the setup (see README: Configuration).
[ -f "$data/namesrv.conf" ] || cat >"$data/namesrv.conf" <<CONF
listenPort=$namesrv_port
bindAddress=127.0.0.1
kvConfigPath=$data/namesrv/kvConfig.json
CONF
[ -f "$data/broker.conf" ] || cat >"$data/broker.conf" <<CONF
brokerClusterName=DefaultCluster
brokerName=broker-a
brokerId=0
brokerIP1=127.0.0.1
bindAddress=127.0.0.1
listenPort=$broker_port
grpcServerPort=$grpc_port
metricsPromExporterPort=$metrics_port
namesrvAddr=127.0.0.1:$namesrv_port
storePathRootDir=$data/broker
flushDiskType=ASYNC_FLUSH
autoCreateTopicEnable=true
CONF

pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping..."
  # Broker first, so it can unregister from the name server.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
}
trap stop INT TERM EXIT

wait_port() {  # port, pid, name: bounded wait until the port accepts connections
  for _ in $(seq 1 100); do
    if ! kill -0 "$2" 2>/dev/null; then echo "$3 exited; see the lines above" >&2; exit 1; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$3 did not start listening on port $1 within 10 s" >&2
  exit 1
}

"$bin/mqnamesrv" -c "$data/namesrv.conf" &
pids+=($!)
wait_port "$namesrv_port" "${pids[0]}" mqnamesrv
"$bin/mqbroker" -c "$data/broker.conf" &
pids+=($!)
wait_port "$broker_port" "${pids[1]}" mqbroker
# The broker registers with the name server at start; wait until its route is visible.
for _ in $(seq 1 50); do
  "$bin/mqadmin" clusterList -n "127.0.0.1:$namesrv_port" 2>/dev/null | grep -q broker-a && break
  sleep 0.1
done

cat <<MSG

Stele is running: name server 127.0.0.1:$namesrv_port, broker 127.0.0.1:$broker_port (gRPC
127.0.0.1:$grpc_port for RocketMQ 5.x clients), data in $data
Try, in another terminal:
  $bin/mqadmin sendMessage -n 127.0.0.1:$namesrv_port -t TopicTest -p "hello stele"
  $bin/mqadmin consumeMessage -n 127.0.0.1:$namesrv_port -t TopicTest -c 1
  $bin/mqadmin watch -n 127.0.0.1:$namesrv_port          # live rates, lag, flush latency
  curl -s http://127.0.0.1:$metrics_port/metrics         # Prometheus metrics
Any RocketMQ remoting client works too: point it at name server 127.0.0.1:$namesrv_port.
Press Ctrl-C to stop both.
MSG
wait -n "${pids[@]}" || true
