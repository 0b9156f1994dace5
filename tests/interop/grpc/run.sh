#!/usr/bin/env bash
# gRPC interop tests: the real npm client rocketmq-client-nodejs 1.0.8 (RocketMQ 5.x protocol,
# apache.rocketmq.v2.MessagingService) against Stele's mqnamesrv and mqbroker's gRPC endpoint.
#
#   tests/interop/grpc/run.sh BUILD_DIR [SCENARIO...]
#
# Starts a name server and one broker (SYNC_FLUSH, autoCreateTopicEnable=false, maxMessageSize
# 1 MiB, gRPC endpoint on its own port) on free 127.0.0.1 ports with temporary stores, runs each
# scenario (a_send_receive ... g_message_types, or the ones named) under `timeout`, prints PASS/FAIL,
# stops the servers with SIGTERM (they must exit 0) and exits non-zero on any failure.
# d_restart runs in two halves around a restart of the broker (SIGTERM, then the same config).
# e_cross_protocol needs BUILD_DIR/tests/stele_client_probe (the C++ remoting client).
# Logs are printed on failure. Needs node >= 18 and npm (node_modules are installed from
# package-lock.json with `npm ci` when missing).
#
# Environment: SCENARIO_TIMEOUT (s, default 150), STELE_INTEROP_KEEP=1 keeps the temp directory.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ALL_SCENARIOS=(a_send_receive b_redelivery c_change_invisible e_cross_protocol f_bad_input g_message_types d_restart)
SCENARIO_TIMEOUT="${SCENARIO_TIMEOUT:-150}"
MAX_MESSAGE_SIZE=1048576

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [SCENARIO...]   (scenarios: ${ALL_SCENARIOS[*]})" >&2
  exit 2
fi
BUILD="$(cd "$1" 2>/dev/null && pwd)" || { echo "grpc-interop: build dir $1 does not exist" >&2; exit 2; }
shift
SCENARIOS=("$@")
[[ ${#SCENARIOS[@]} -eq 0 ]] && SCENARIOS=("${ALL_SCENARIOS[@]}")
for s in "${SCENARIOS[@]}"; do
  [[ -f "$HERE/$s.js" ]] || { echo "grpc-interop: unknown scenario $s (have: ${ALL_SCENARIOS[*]})" >&2; exit 2; }
done

NAMESRV_BIN="$BUILD/src/apps/mqnamesrv"
BROKER_BIN="$BUILD/src/apps/mqbroker"
for b in "$NAMESRV_BIN" "$BROKER_BIN"; do
  [[ -x "$b" ]] || { echo "grpc-interop: $b not built (cmake --build $BUILD --target mqnamesrv mqbroker)" >&2; exit 2; }
done
command -v node >/dev/null || { echo "grpc-interop: node is not installed" >&2; exit 2; }
command -v npm >/dev/null || { echo "grpc-interop: npm is not installed" >&2; exit 2; }

# ---- node modules -------------------------------------------------------------------------------
installed_version() {
  node -e 'try { console.log(require(process.argv[1] + "/node_modules/rocketmq-client-nodejs/package.json").version) } catch (e) { console.log("none") }' "$HERE"
}
if [[ "$(installed_version)" != "1.0.8" ]]; then
  echo "grpc-interop: installing node modules (npm ci)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || { echo "grpc-interop: npm ci failed" >&2; exit 2; }
fi

# ---- work dir, cleanup --------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/stele-grpc-interop.XXXXXX")"
LOGS="$WORK/logs"
mkdir -p "$LOGS" "$WORK/home"   # the servers' and clients' HOME: nothing may land in the real one
TAG=grpc-interop
# shellcheck source=../common.sh
source "$HERE/../common.sh"

cleanup() {
  stop_all_quietly
  if [[ "${STELE_INTEROP_KEEP:-0}" == 1 ]]; then
    echo "grpc-interop: kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- ports ----------------------------------------------------------------------------------------
read -r NS_PORT BROKER_PORT GRPC_PORT < <(free_ports 3)
[[ -n "${GRPC_PORT:-}" ]] || { echo "grpc-interop: could not find free ports" >&2; exit 2; }

start_namesrv() {
  mkdir -p "$WORK/namesrv"
  cat >"$WORK/namesrv/namesrv.conf" <<EOF
listenPort=$NS_PORT
bindAddress=127.0.0.1
kvConfigPath=$WORK/namesrv/kvConfig.json
EOF
  (cd "$WORK/namesrv" && HOME="$WORK/home" exec "$NAMESRV_BIN" -c "$WORK/namesrv/namesrv.conf") >"$LOGS/namesrv.log" 2>&1 &
  PIDS[namesrv]=$!
  SERVER_ORDER+=(namesrv)
  wait_port namesrv "$NS_PORT"
}

start_broker() {
  mkdir -p "$WORK/broker"
  cat >"$WORK/broker/broker.conf" <<EOF
brokerClusterName=SteleGrpcInterop
brokerName=broker-g
brokerId=0
brokerIP1=127.0.0.1
bindAddress=127.0.0.1
listenPort=$BROKER_PORT
grpcServerPort=$GRPC_PORT
namesrvAddr=127.0.0.1:$NS_PORT
storePathRootDir=$WORK/broker/store
flushDiskType=SYNC_FLUSH
autoCreateTopicEnable=false
defaultTopicQueueNums=4
mappedFileSizeCommitLog=67108864
maxMessageSize=$MAX_MESSAGE_SIZE
EOF
  (cd "$WORK/broker" && HOME="$WORK/home" exec "$BROKER_BIN" -n "127.0.0.1:$NS_PORT" -c "$WORK/broker/broker.conf") >>"$LOGS/broker.log" 2>&1 &
  PIDS[broker]=$!
  [[ " ${SERVER_ORDER[*]} " == *" broker "* ]] || SERVER_ORDER+=(broker)
  wait_port broker "$BROKER_PORT" && wait_port broker "$GRPC_PORT"
}

# A scenario is `node X.js`; d_restart is `node d_restart.js before`, a broker restart, then
# `node d_restart.js after`.
run_scenario() {
  local s="$1"
  if [[ "$s" != d_restart ]]; then
    timeout --kill-after=5 "$SCENARIO_TIMEOUT" node "$HERE/$s.js"
    return
  fi
  timeout --kill-after=5 "$SCENARIO_TIMEOUT" node "$HERE/d_restart.js" before || return
  echo "grpc-interop: restarting the broker"
  if ! stop_server broker; then echo "grpc-interop: the broker did not stop cleanly"; return 1; fi
  if ! start_broker; then echo "grpc-interop: the broker did not come back"; return 1; fi
  echo "grpc-interop: broker restarted"
  timeout --kill-after=5 "$SCENARIO_TIMEOUT" node "$HERE/d_restart.js" after
}

echo "grpc-interop: rocketmq-client-nodejs $(installed_version), node $(node --version), servers from $BUILD"
if ! start_namesrv || ! start_broker; then
  echo "FAIL: server startup"
  for f in "$LOGS"/*.log; do echo "----- $(basename "$f") -----"; tail -n 60 "$f"; done
  exit 1
fi
echo "grpc-interop: namesrv 127.0.0.1:$NS_PORT, broker remoting 127.0.0.1:$BROKER_PORT, gRPC 127.0.0.1:$GRPC_PORT, data in $WORK"

export HOME="$WORK/home"   # the client's default logger would write ~/logs/rocketmq
export STELE_NAMESRV="127.0.0.1:$NS_PORT"
export STELE_BROKER="127.0.0.1:$BROKER_PORT"
export STELE_GRPC="127.0.0.1:$GRPC_PORT"
export STELE_LOG_DIR="$LOGS"
export STELE_RUN_ID="$(date +%s)$$"
export STELE_MAX_MESSAGE_SIZE="$MAX_MESSAGE_SIZE"
export STELE_CLIENT_PROBE="$BUILD/tests/stele_client_probe"

show_client_logs() {  # scenario
  local f
  for f in "$LOGS"/grpc-"${1:0:1}"-*.log; do
    [[ -f "$f" ]] || continue
    echo "----- $(basename "$f") (client log, errors and warnings, last 30) -----"
    grep -E ' (ERROR|WARN) ' "$f" | tail -n 30
  done
}
run_scenarios d_restart "${SCENARIOS[@]}"

# Clean shutdown: the broker first, then the name server.
t0=$SECONDS
shutdown_ok=1
for ((i = ${#SERVER_ORDER[@]} - 1; i >= 0; i--)); do
  stop_server "${SERVER_ORDER[$i]}" || shutdown_ok=0
done
if [[ $shutdown_ok == 1 ]]; then
  record shutdown PASS $((SECONDS - t0))
else
  record shutdown FAIL $((SECONDS - t0))
  for name in namesrv broker; do echo "----- $name.log (last 40 lines) -----"; tail -n 40 "$LOGS/$name.log"; done
fi

echo
echo "grpc-interop summary:"
for r in "${RESULTS[@]}"; do echo "  $r"; done
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
