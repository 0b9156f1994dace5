#!/usr/bin/env bash
# Interop tests: the real npm client ali-ons 3.12.0 against Stele's mqnamesrv and mqbroker.
#
#   tests/interop/run.sh BUILD_DIR [SCENARIO...]
#
# Starts a fresh name server and two brokers of one cluster on free 127.0.0.1 ports with temporary
# stores (broker-a SYNC_FLUSH, broker-b ASYNC_FLUSH, every delay level 1 s), runs each scenario
# (a_produce_consume ... i_restart, or the ones named) under `timeout`, prints PASS/FAIL per
# scenario, stops the servers with SIGTERM (they must exit 0), and exits non-zero on any failure.
# i_restart runs in two halves around a restart of broker-a (SIGTERM, then the same config again).
# Server and client logs are printed on failure. Needs node >= 18 and npm (node_modules are installed
# from package-lock.json with `npm ci` when missing).
#
# Environment: SCENARIO_TIMEOUT (s, default 120), STELE_INTEROP_KEEP=1 keeps the temp directory.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ALL_SCENARIOS=(a_produce_consume b_clustering c_broadcast d_resume e_retry_dlq f_query g_two_brokers h_tag_filter j_large_messages k_cpp_client i_restart)
SCENARIO_TIMEOUT="${SCENARIO_TIMEOUT:-120}"

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [SCENARIO...]   (scenarios: ${ALL_SCENARIOS[*]})" >&2
  exit 2
fi
BUILD="$(cd "$1" 2>/dev/null && pwd)" || { echo "interop: build dir $1 does not exist" >&2; exit 2; }
shift
SCENARIOS=("$@")
[[ ${#SCENARIOS[@]} -eq 0 ]] && SCENARIOS=("${ALL_SCENARIOS[@]}")
for s in "${SCENARIOS[@]}"; do
  [[ -f "$HERE/$s.js" ]] || { echo "interop: unknown scenario $s (have: ${ALL_SCENARIOS[*]})" >&2; exit 2; }
done

NAMESRV_BIN="$BUILD/src/apps/mqnamesrv"
BROKER_BIN="$BUILD/src/apps/mqbroker"
for b in "$NAMESRV_BIN" "$BROKER_BIN"; do
  [[ -x "$b" ]] || { echo "interop: $b not built (cmake --build $BUILD --target mqnamesrv mqbroker)" >&2; exit 2; }
done
command -v node >/dev/null || { echo "interop: node is not installed" >&2; exit 2; }
command -v npm >/dev/null || { echo "interop: npm is not installed" >&2; exit 2; }

# ---- node modules -------------------------------------------------------------------------------
installed_version() {
  node -e 'try { console.log(require(process.argv[1] + "/node_modules/ali-ons/package.json").version) } catch (e) { console.log("none") }' "$HERE"
}
if [[ "$(installed_version)" != "3.12.0" ]]; then
  echo "interop: installing node modules (npm ci)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || { echo "interop: npm ci failed" >&2; exit 2; }
fi

# ---- work dir, cleanup --------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/stele-interop.XXXXXX")"
LOGS="$WORK/logs"
mkdir -p "$LOGS" "$WORK/home"   # the servers' HOME: nothing may land in the real one
TAG=interop
# shellcheck source=common.sh
source "$HERE/common.sh"

cleanup() {
  stop_all_quietly
  if [[ "${STELE_INTEROP_KEEP:-0}" == 1 ]]; then
    echo "interop: kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

print_logs() {
  local f
  for f in "$LOGS"/*.log; do
    [[ -f "$f" ]] || continue
    echo "----- $(basename "$f") (last 80 lines) -----"
    tail -n 80 "$f"
  done
}

# ---- ports ----------------------------------------------------------------------------------------
read -r NS_PORT A_PORT B_PORT < <(free_ports 3)
[[ -n "${B_PORT:-}" ]] || { echo "interop: could not find free ports" >&2; exit 2; }

CLUSTER="SteleInterop"
DELAY_LEVELS="1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s"

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

start_broker() {  # name port flushDiskType
  local name="$1" port="$2" flush="$3"
  mkdir -p "$WORK/$name"
  cat >"$WORK/$name/broker.conf" <<EOF
brokerClusterName=$CLUSTER
brokerName=$name
brokerId=0
brokerIP1=127.0.0.1
bindAddress=127.0.0.1
listenPort=$port
namesrvAddr=127.0.0.1:$NS_PORT
storePathRootDir=$WORK/$name/store
flushDiskType=$flush
autoCreateTopicEnable=false
defaultTopicQueueNums=4
mappedFileSizeCommitLog=67108864
maxMessageSize=4194304
messageDelayLevel=$DELAY_LEVELS
grpcServerPort=0
EOF
  (cd "$WORK/$name" && HOME="$WORK/home" exec "$BROKER_BIN" -n "127.0.0.1:$NS_PORT" -c "$WORK/$name/broker.conf") >>"$LOGS/$name.log" 2>&1 &
  PIDS[$name]=$!
  [[ " ${SERVER_ORDER[*]} " == *" $name "* ]] || SERVER_ORDER+=("$name")
  wait_port "$name" "$port"
}

# A scenario is `node X.js`; i_restart is `node i_restart.js before`, a restart of broker-a, then
# `node i_restart.js after`. Output goes to stdout; returns non-zero on failure.
run_scenario() {
  local s="$1" rc
  if [[ "$s" != i_restart ]]; then
    timeout --kill-after=5 "$SCENARIO_TIMEOUT" node "$HERE/$s.js"
    return
  fi
  timeout --kill-after=5 "$SCENARIO_TIMEOUT" node "$HERE/i_restart.js" before || return
  echo "interop: restarting broker-a"
  if ! stop_server broker-a; then echo "interop: broker-a did not stop cleanly"; return 1; fi
  if ! start_broker broker-a "$A_PORT" SYNC_FLUSH; then echo "interop: broker-a did not come back"; return 1; fi
  echo "interop: broker-a restarted"
  timeout --kill-after=5 "$SCENARIO_TIMEOUT" node "$HERE/i_restart.js" after
}

echo "interop: ali-ons $(installed_version), node $(node --version), servers from $BUILD"
# The helper's own checks against ali-ons's encoder; no server needed.
t0=$SECONDS
if timeout 60 node "$HERE/selftest.js" >"$LOGS/selftest.out" 2>&1; then
  record selftest PASS $((SECONDS - t0))
else
  record selftest FAIL $((SECONDS - t0)); cat "$LOGS/selftest.out"
fi

if ! start_namesrv || ! start_broker broker-a "$A_PORT" SYNC_FLUSH || ! start_broker broker-b "$B_PORT" ASYNC_FLUSH; then
  echo "FAIL: server startup"
  print_logs
  exit 1
fi
echo "interop: namesrv 127.0.0.1:$NS_PORT, broker-a 127.0.0.1:$A_PORT (SYNC_FLUSH), broker-b 127.0.0.1:$B_PORT (ASYNC_FLUSH), data in $WORK"

export STELE_NAMESRV="127.0.0.1:$NS_PORT"
export STELE_BROKERS="{\"broker-a\":{\"addr\":\"127.0.0.1:$A_PORT\",\"flush\":\"SYNC_FLUSH\"},\"broker-b\":{\"addr\":\"127.0.0.1:$B_PORT\",\"flush\":\"ASYNC_FLUSH\"}}"
export STELE_CLUSTER="$CLUSTER"
export STELE_LOG_DIR="$LOGS"
export STELE_RUN_ID="$(date +%s)$$"
export STELE_CLIENT_PROBE="$BUILD/tests/stele_client_probe"  # k_cpp_client

show_client_logs() {  # scenario
  local f
  for f in "$LOGS/${1:0:1}"-*.log; do
    [[ -f "$f" ]] || continue
    echo "----- $(basename "$f") (ali-ons log, errors and warnings, last 40) -----"
    grep -E ' (ERROR|WARN) ' "$f" | tail -n 40
  done
}
run_scenarios i_restart "${SCENARIOS[@]}"

# Clean shutdown: brokers first (they unregister from the name server), then the name server.
t0=$SECONDS
shutdown_ok=1
for ((i = ${#SERVER_ORDER[@]} - 1; i >= 0; i--)); do
  stop_server "${SERVER_ORDER[$i]}" || shutdown_ok=0
done
if [[ $shutdown_ok == 1 ]]; then
  record shutdown PASS $((SECONDS - t0))
else
  record shutdown FAIL $((SECONDS - t0))
  for name in namesrv broker-a broker-b; do echo "----- $name.log (last 40 lines) -----"; tail -n 40 "$LOGS/$name.log"; done
fi

# The stores the brokers left must verify (mqstore, when built).
MQSTORE="$BUILD/src/tools/mqstore"
if [[ -x "$MQSTORE" && $shutdown_ok == 1 ]]; then
  for name in broker-a broker-b; do
    t0=$SECONDS
    if "$MQSTORE" verify "$WORK/$name/store" >"$LOGS/verify-$name.out" 2>&1; then
      record "verify_$name" PASS $((SECONDS - t0))
    else
      record "verify_$name" FAIL $((SECONDS - t0)); tail -n 40 "$LOGS/verify-$name.out"
    fi
  done
fi

echo
echo "interop summary:"
for r in "${RESULTS[@]}"; do echo "  $r"; done
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
