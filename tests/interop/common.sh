# Shared by tests/interop/run.sh (ali-ons) and tests/interop/grpc/run.sh (rocketmq-client-nodejs):
# free ports, server start-up waits, stop by PID, and a scenario runner. Sourced, not executed.
#
# The caller sets TAG (prefix of messages), WORK and LOGS, starts its servers into PIDS /
# SERVER_ORDER, and defines:
#   run_scenario NAME      runs one scenario, output on stdout, non-zero on failure
#   show_client_logs NAME  prints the client logs worth reading when NAME failed
# INTEROP_JOBS (default 3) scenarios run at once: they use their own topics and groups, and most of
# their time is spent waiting for the broker (long polls, invisible durations, delay levels), so
# running them side by side shortens the suite without loading the machine much.

declare -A PIDS=()   # server name -> pid
SERVER_ORDER=()      # start order; stopped in reverse
PASSED=0
FAILED=0
RESULTS=()

free_ports() {  # N: prints N distinct free 127.0.0.1 ports, found by binding port 0 while all are held
  node -e '
    const net = require("net");
    const socks = [];
    (async () => {
      for (let i = 0; i < Number(process.argv[1]); i++) {
        const s = net.createServer();
        await new Promise(r => s.listen(0, "127.0.0.1", r));
        socks.push(s);
      }
      console.log(socks.map(s => s.address().port).join(" "));
      socks.forEach(s => s.close());
    })();' "$1"
}

wait_port() {  # name port: until the port accepts connections while the server lives, 30 s at most
  local name="$1" port="$2" pid="${PIDS[$1]}" deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$TAG: $name exited during startup:"; tail -n 50 "$LOGS/$name.log"; return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$TAG: $name did not accept connections on 127.0.0.1:$port within 30 s:"; tail -n 50 "$LOGS/$name.log"
  return 1
}

stop_server() {  # name; returns non-zero unless the server exits 0 within 20 s of SIGTERM
  local name="$1" pid="${PIDS[$1]:-}" rc
  [[ -z "$pid" ]] && return 0
  unset "PIDS[$name]"
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null; rc=$?
    echo "$TAG: $name (pid $pid) had already exited with status $rc"
    return 1
  fi
  kill -TERM "$pid" 2>/dev/null
  local deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$TAG: $name (pid $pid) still running 20 s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
  fi
  wait "$pid" 2>/dev/null; rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "$TAG: $name (pid $pid) exited with status $rc after SIGTERM"
    return 1
  fi
  return 0
}

stop_all_quietly() {
  local i
  for ((i = ${#SERVER_ORDER[@]} - 1; i >= 0; i--)); do stop_server "${SERVER_ORDER[$i]}" >/dev/null 2>&1; done
}

servers_alive() {
  local name ok=0
  for name in "${SERVER_ORDER[@]}"; do
    if [[ -n "${PIDS[$name]:-}" ]] && ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
      echo "$TAG: server $name (pid ${PIDS[$name]}) is no longer running"
      ok=1
    fi
  done
  return $ok
}

record() {  # name PASS|FAIL|SKIP seconds
  RESULTS+=("$(printf '%-20s %s (%ss)' "$1" "$2" "$3")")
  if [[ "$2" == PASS ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
  echo "$2: $1 (${3}s)"
}

# Reports one finished scenario from $LOGS/NAME.out and $LOGS/NAME.rc ("rc seconds").
report_scenario() {
  local s="$1" rc=1 secs=0
  [[ -f "$LOGS/$s.rc" ]] && read -r rc secs <"$LOGS/$s.rc"
  if [[ $rc -eq 0 ]]; then
    record "$s" PASS "$secs"
    sed 's/^/    /' "$LOGS/$s.out" | grep -v ' OK$'   # what the scenario measured and checked
    return 0
  fi
  [[ $rc -eq 124 || $rc -eq 137 ]] && echo "$TAG: $s timed out after ${SCENARIO_TIMEOUT}s"
  record "$s" FAIL "$secs"
  echo "----- $s output -----"
  cat "$LOGS/$s.out"
  show_client_logs "$s"
  local name
  for name in "${SERVER_ORDER[@]}"; do
    echo "----- $name.log (last 60 lines) -----"
    tail -n 60 "$LOGS/$name.log"
  done
}

start_scenario() {  # name: in the background, leaves $LOGS/NAME.rc ("rc seconds") when done
  local s="$1"
  (
    t0=$SECONDS
    run_scenario "$s" >"$LOGS/$s.out" 2>&1
    echo "$? $((SECONDS - t0))" >"$LOGS/$s.rc"
  ) &
  SCENARIO_PIDS[$s]=$!
}

# Waits for the scenarios started with start_scenario (never for the servers, which are children of
# this shell too): for one of them with `one`, for all with `all`.
declare -A SCENARIO_PIDS=()
wait_scenarios() {
  local s pids=()
  for s in "${!SCENARIO_PIDS[@]}"; do
    if [[ -f "$LOGS/$s.rc" && "$1" == one ]]; then
      wait "${SCENARIO_PIDS[$s]}" 2>/dev/null
      unset "SCENARIO_PIDS[$s]"
      return
    fi
    pids+=("${SCENARIO_PIDS[$s]}")
  done
  ((${#pids[@]} == 0)) && return
  if [[ "$1" == one ]]; then
    wait -n "${pids[@]}" 2>/dev/null
    wait_scenarios one   # reap the one that finished (its .rc is there now)
  else
    wait "${pids[@]}" 2>/dev/null
    SCENARIO_PIDS=()
  fi
}

# run_scenarios ALONE NAME...: the NAMEs other than ALONE run INTEROP_JOBS at a time; ALONE (a
# scenario that restarts a server) runs last, by itself. If a server dies, the run fails and ALONE
# is skipped.
run_scenarios() {
  local alone="$1" s jobs="${INTEROP_JOBS:-3}"
  shift
  local side=() last=()
  for s in "$@"; do
    if [[ "$s" == "$alone" ]]; then last+=("$s"); else side+=("$s"); fi
  done
  for s in "${side[@]}"; do
    while ((${#SCENARIO_PIDS[@]} >= jobs)); do wait_scenarios one; done
    start_scenario "$s"
  done
  wait_scenarios all
  for s in "${side[@]}"; do report_scenario "$s"; done
  local alive=1
  servers_alive || alive=0
  for s in "${last[@]}"; do
    if [[ $alive == 0 ]]; then
      record "$s" SKIP 0
      continue
    fi
    # In this shell, not a subshell: it restarts a server, whose new pid must land in PIDS.
    local t0=$SECONDS rc
    run_scenario "$s" >"$LOGS/$s.out" 2>&1
    rc=$?
    echo "$rc $((SECONDS - t0))" >"$LOGS/$s.rc"
    report_scenario "$s"
    servers_alive || alive=0
  done
  if [[ $alive == 0 ]]; then
    echo "$TAG: a server died while the scenarios ran"
    FAILED=$((FAILED + 1))
  fi
}
