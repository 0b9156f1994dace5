#!/usr/bin/env bash
# End-to-end comparison: mqbroker over loopback against the same load through the embedded
# stele::Store API, in one run, on one file system; and the project's C++ client library
# (stele::client Producer / PushConsumer, through mqnamesrv) against the raw wire client on the
# same broker. Prints markdown tables of the ratios and the targets (also written to
# DIR/results.md; every RESULT line in DIR/raw/).
#
# usage: bench/e2e/e2e_compare.sh BUILD_DIR [DIR]
#   BUILD_DIR  a build tree holding mqbroker, mqnamesrv and stele_e2e_bench (searched below it);
#              this script builds nothing
#   DIR        scratch directory (default ./stele-bench-data/e2e); stores are created and removed
#              below it. Needs ~6 GiB free.
# Environment (defaults in brackets):
#   E2E_SECONDS [5] measured seconds per case, after E2E_WARMUP [1] seconds of warm-up
#   E2E_SIZE [1024] body bytes      E2E_QUEUES [8] queues of the topic
#   E2E_THREADS [16] synchronous senders (RocketMQ's benchmark Producer shape)
#   E2E_INFLIGHT [64] over E2E_CONNS [4] connections: the pipelined (async producer) shape
#   E2E_SEGMENT [1073741824] commit-log segment bytes under ASYNC_FLUSH, E2E_SYNC_SEGMENT
#   [134217728] under SYNC_FLUSH (each new SYNC_FLUSH segment is zero-filled)
#   E2E_SYNC [1] run the SYNC_FLUSH pair      E2E_STARTS [3] cold starts timed
#   E2E_CLIENT [raw] raw | remoting (load generator, see stele_e2e_bench --help)
#   E2E_REMOTING_ROW [1] also run the sync-sender case through the project's RemotingClient
#   E2E_CLIENT_ROWS [1] also run both producer shapes and the consumer through the C++ client
#              (needs mqnamesrv: started on a free port, the load broker registers with it)
#   E2E_SERIALIZE [json] json | rocketmq
#
# Order: the SYNC_FLUSH pair runs first (fdatasync latency on the project VM degrades for a while
# after multi-GiB write bursts, ../shared/ref/perf.md), then start-up and idle memory, then the
# ASYNC_FLUSH cases, each broker case right after its embedded twin (and the C++ client's case
# right after the raw client's). The broker and the embedded store live in sibling directories;
# the broker idles while the embedded case runs. Start-up is timed with a broker.conf without
# namesrvAddr, as before there was a name server here; the name server is started after those
# starts, and the broker that takes the load is one more start with namesrvAddr set (it
# registers at start, on topic creation and every 30 s: negligible next to the load).
set -euo pipefail

die() {
  echo "e2e_compare: $*" >&2
  exit 1
}
log() { echo "[$(date +%T)] $*" >&2; }

[[ $# -ge 1 ]] || die "usage: $0 BUILD_DIR [DIR]"
build=$(cd "$1" && pwd) || die "no build directory $1"
dir=${2:-./stele-bench-data/e2e}
find_bin() {
  find "$build" -maxdepth 5 -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1
}
broker_bin=$(find_bin mqbroker)
namesrv_bin=$(find_bin mqnamesrv)
bench_bin=$(find_bin stele_e2e_bench)
[[ -n $broker_bin ]] || die "mqbroker not found under $build"
[[ -n $bench_bin ]] || die "stele_e2e_bench not found under $build"
command -v python3 >/dev/null || die "python3 is needed (to find a free port)"

secs=${E2E_SECONDS:-5}
warm=${E2E_WARMUP:-1}
size=${E2E_SIZE:-1024}
queues=${E2E_QUEUES:-8}
threads=${E2E_THREADS:-16}
inflight=${E2E_INFLIGHT:-64}
conns=${E2E_CONNS:-4}
seg=${E2E_SEGMENT:-1073741824}
sync_seg=${E2E_SYNC_SEGMENT:-134217728}
do_sync=${E2E_SYNC:-1}
starts=${E2E_STARTS:-3}
client=${E2E_CLIENT:-raw}
remoting_row=${E2E_REMOTING_ROW:-1}
ser=${E2E_SERIALIZE:-json}
client_rows=${E2E_CLIENT_ROWS:-1}
if [[ $client_rows == 1 && -z $namesrv_bin ]]; then
  echo "e2e_compare: mqnamesrv not found under $build: skipping the C++ client rows" >&2
  client_rows=0
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
raw=$dir/raw
mkdir -p "$raw"
rm -f "$raw"/*.txt "$raw"/*.log "$raw"/*.conf
commands=()
broker_pid=
namesrv_pid=

cleanup() {
  local pid
  for pid in "$broker_pid" "$namesrv_pid"; do
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$dir"/store-* "$dir"/emb-* "$dir"/namesrv-kv.json
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# write_conf FILE FLUSH STORE PORT SEGMENT
write_conf() {
  cat >"$1" <<EOF
brokerClusterName=DefaultCluster
brokerName=e2e-bench
brokerIP1=127.0.0.1
bindAddress=127.0.0.1
listenPort=$4
grpcServerPort=0
storePathRootDir=$3
flushDiskType=$2
mappedFileSizeCommitLog=$5
autoCreateTopicEnable=true
defaultTopicQueueNums=$queues
maxInflightSends=10000
EOF
}

# start_broker CONF PORT NAME: starts mqbroker, waits until it serves; sets broker_pid, and
# ready_accept_ms / ready_answer_ms (from exec to accepting / to the first send answered).
start_broker() {
  local conf=$1 port=$2 name=$3 t0 line
  t0=$EPOCHREALTIME
  "$broker_bin" -c "$conf" >"$raw/$name.broker.log" 2>&1 &
  broker_pid=$!
  if ! line=$("$bench_bin" --mode=ready --broker="127.0.0.1:$port" --since-epoch="$t0" \
    --topic=E2EBenchTopic --queues="$queues" --size="$size" --serialize="$ser" \
    2>>"$raw/$name.ready.log" | grep '^RESULT'); then
    tail -n 20 "$raw/$name.broker.log" >&2
    die "broker did not start (log: $raw/$name.broker.log)"
  fi
  echo "$line" >"$raw/$name.ready.txt"
  ready_accept_ms=$(field "$line" accept_ms)
  ready_answer_ms=$(field "$line" answer_ms)
}

# start_namesrv PORT: starts mqnamesrv on 127.0.0.1:PORT, waits (at most 10 s) until it accepts;
# sets namesrv_pid.
start_namesrv() {
  local port=$1 i
  "$namesrv_bin" --listenPort="$port" --bindAddress=127.0.0.1 \
    --kvConfigPath="$dir/namesrv-kv.json" >"$raw/namesrv.log" 2>&1 &
  namesrv_pid=$!
  commands+=("mqnamesrv --listenPort=$port --bindAddress=127.0.0.1 --kvConfigPath=$dir/namesrv-kv.json")
  for ((i = 0; i < 1000; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return
    kill -0 "$namesrv_pid" 2>/dev/null || break
    sleep 0.01
  done
  tail -n 20 "$raw/namesrv.log" >&2
  die "mqnamesrv did not start (log: $raw/namesrv.log)"
}

# stop_broker: SIGTERM, wait; sets stop_ms.
stop_broker() {
  local t0=$EPOCHREALTIME
  kill -TERM "$broker_pid"
  wait "$broker_pid" || die "mqbroker exited with status $? on SIGTERM"
  stop_ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
  broker_pid=
}

# wait_spare STORE: until the commit log has its next segment prepared (at most 15 s).
wait_spare() {
  local i
  for ((i = 0; i < 1500; i++)); do
    [[ $(find "$1/commitlog" -maxdepth 1 -type f ! -name '*.*' 2>/dev/null | wc -l) -ge 2 ]] && return
    sleep 0.01
  done
  log "WARNING: no spare segment in $1 after 15 s"
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

field() { # field "RESULT ..." key
  local kv
  for kv in $1; do
    [[ $kv == "$2="* ]] && {
      echo "${kv#*=}"
      return
    }
  done
  echo "?"
}

# run NAME ARGS...: one stele_e2e_bench case; its RESULT lines go to raw/NAME.txt.
run() {
  local name=$1
  shift
  log "$name: stele_e2e_bench $*"
  commands+=("stele_e2e_bench $*")
  if ! "$bench_bin" "$@" >"$raw/$name.txt" 2>"$raw/$name.log"; then
    tail -n 20 "$raw/$name.log" >&2
    die "$name failed (log: $raw/$name.log)"
  fi
  grep -q '^RESULT' "$raw/$name.txt" || die "$name printed no RESULT"
}
res() { # res NAME KEY [MODE]: a field of a case's RESULT line (of MODE when it printed several)
  local line
  line=$(grep "^RESULT mode=${3:-}" "$raw/$1.txt" | head -n 1)
  field "$line" "$2"
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "?") printf "%.2fx", a / b; else printf "?" }'; }
meets() { # meets EXPR: "met" / "**missed**"
  if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "**missed**"; fi
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_begin=$(date +%s)
log "broker $broker_bin; bench $bench_bin; scratch $dir; load average $load_start on $(nproc) CPUs"
common=(--topic=E2EBenchTopic --queues="$queues" --size="$size" --seconds="$secs"
  --warmup="$warm" --serialize="$ser")
sync_shape=(--threads="$threads")
async_shape=(--inflight="$inflight" --connections="$conns")

# ---- 1. SYNC_FLUSH pair --------------------------------------------------------------------
if [[ $do_sync == 1 ]]; then
  port=$(free_port)
  write_conf "$raw/broker-sync.conf" SYNC_FLUSH "$dir/store-sync" "$port" "$sync_seg"
  start_broker "$raw/broker-sync.conf" "$port" sync
  wait_spare "$dir/store-sync"
  run emb_sync --mode=embedded --config="$raw/broker-sync.conf" --store="$dir/emb-sync" \
    "${common[@]}" "${async_shape[@]}"
  sync -f "$dir"  # as the embedded case does (syncfs) before measuring: no write-back in flight
  run brk_sync --mode=broker --broker="127.0.0.1:$port" --broker-pid="$broker_pid" \
    --client="$client" "${common[@]}" "${async_shape[@]}"
  stop_broker
  rm -rf "$dir/store-sync"
fi

# ---- 2. Start-up and idle memory (ASYNC_FLUSH, empty store each time) ----------------------
port=$(free_port)
conf=$raw/broker.conf
write_conf "$conf" ASYNC_FLUSH "$dir/store-async" "$port" "$seg"
accepts=() answers=() rss_idle=() anon_idle=() stops=()
for ((i = 1; i <= starts; i++)); do
  rm -rf "$dir/store-async"
  start_broker "$conf" "$port" "start$i"
  accepts+=("$ready_accept_ms")
  answers+=("$ready_answer_ms")
  sleep 1
  rss_idle+=("$(status_kb "$broker_pid" VmRSS)")
  anon_idle+=("$(status_kb "$broker_pid" RssAnon)")
  log "start $i: accepting after $ready_accept_ms ms, first send answered after $ready_answer_ms ms, idle RSS ${rss_idle[-1]} KiB"
  if ((i < starts || client_rows == 1)); then
    stop_broker
    stops+=("$stop_ms")
  fi
done
commands+=("mqbroker -c $conf   # started with \$EPOCHREALTIME taken just before; stele_e2e_bench --mode=ready --since-epoch=... polls the port, then sends one message")
nsa=()
if [[ $client_rows == 1 ]]; then
  # The broker that takes the load registers with a name server, for the C++ client.
  ns_port=$(free_port)
  start_namesrv "$ns_port"
  load_conf=$raw/broker-ns.conf
  write_conf "$load_conf" ASYNC_FLUSH "$dir/store-async" "$port" "$seg"
  echo "namesrvAddr=127.0.0.1:$ns_port" >>"$load_conf"
  rm -rf "$dir/store-async"
  start_broker "$load_conf" "$port" load
  log "load broker (with namesrvAddr): accepting after $ready_accept_ms ms, first send answered after $ready_answer_ms ms"
  commands+=("mqbroker -c $load_conf   # broker.conf + namesrvAddr: the broker that takes the load")
  nsa=(--namesrv="127.0.0.1:$ns_port")
fi
wait_spare "$dir/store-async"
bk=(--broker="127.0.0.1:$port" --broker-pid="$broker_pid" --client="$client")
# The C++ client (stele::client), through the name server, on the same broker.
bk_cl=(--broker="127.0.0.1:$port" --broker-pid="$broker_pid" --client=stele "${nsa[@]}")

# ---- 3. ASYNC_FLUSH ingest, each broker case right after its embedded twin -----------------
run emb_threads --mode=embedded --config="$conf" --store="$dir/emb-threads" "${common[@]}" \
  "${sync_shape[@]}"
run brk_threads --mode=broker "${bk[@]}" "${common[@]}" "${sync_shape[@]}"
if [[ $client_rows == 1 ]]; then
  run cl_threads --mode=broker "${bk_cl[@]}" "${common[@]}" "${sync_shape[@]}"
fi
if [[ $remoting_row == 1 && $client != remoting ]]; then
  run brk_threads_rc --mode=broker --broker="127.0.0.1:$port" --broker-pid="$broker_pid" \
    --client=remoting "${common[@]}" "${sync_shape[@]}"
fi
run emb_async --mode=embedded --config="$conf" --store="$dir/emb-async" --consume \
  "${common[@]}" "${async_shape[@]}"
run brk_async --mode=broker "${bk[@]}" "${common[@]}" "${async_shape[@]}"
if [[ $client_rows == 1 ]]; then
  run cl_async --mode=broker "${bk_cl[@]}" "${common[@]}" "${async_shape[@]}"
fi

# ---- 4. Latency at half the broker's best rate, in the shape that reached it ---------------
b_thr=$(res brk_threads tps)
b_asy=$(res brk_async tps)
if awk -v a="$b_thr" -v b="$b_asy" 'BEGIN { exit !(a >= b) }'; then
  best_shape=("${sync_shape[@]}") best_name="$threads sync senders" b_best=$b_thr
else
  best_shape=("${async_shape[@]}") best_name="$inflight in flight over $conns connections" b_best=$b_asy
fi
half=$(calc "%.0f" "$b_best / 2")
run brk_rate --mode=rate --rate="$half" "${bk[@]}" "${common[@]}" "${best_shape[@]}"
run emb_rate --mode=embedded --rate="$half" --config="$conf" --store="$dir/emb-rate" \
  "${common[@]}" "${best_shape[@]}"

# ---- 5. Consume everything the broker stored ----------------------------------------------
run brk_consume --mode=consume --broker="127.0.0.1:$port" --broker-pid="$broker_pid" \
  --topic=E2EBenchTopic --queues="$queues" --size="$size" --seconds="$secs" --serialize="$ser" \
  --threads="$queues"
if [[ $client_rows == 1 ]]; then
  # The same backlog again (a new consumer group, from the first offset), through PushConsumer.
  run cl_consume --mode=consume "${bk_cl[@]}" --topic=E2EBenchTopic --queues="$queues" \
    --size="$size" --seconds="$secs"
fi
rss_after=$(status_kb "$broker_pid" VmRSS)
anon_after=$(status_kb "$broker_pid" RssAnon)
hwm=$(status_kb "$broker_pid" VmHWM)
stop_broker
stops+=("$stop_ms")
if [[ -n $namesrv_pid ]]; then
  kill -TERM "$namesrv_pid"
  wait "$namesrv_pid" || log "WARNING: mqnamesrv exited with status $? on SIGTERM"
  namesrv_pid=
fi
t_total=$(($(date +%s) - t_begin))
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- Table -----------------------------------------------------------------------------------
e_thr=$(res emb_threads tps)
e_asy=$(res emb_async tps embedded)
e_best=$(awk -v a="$e_thr" -v b="$e_asy" 'BEGIN { print (a >= b ? a : b) }')
ingest_ratio=$(awk -v a="$b_best" -v b="$e_best" 'BEGIN { print a / b }')
rate_p99=$(res brk_rate p99_us)
rss_idle_kb=$(median "${rss_idle[@]}")
acc_med=$(median "${accepts[@]}")
ans_med=$(median "${answers[@]}")
mib() { calc "%.1f" "$1 / 1024"; }
pair() { echo "$(res "$1" p50_us "${3:-}") / $(res "$1" p99_us "${3:-}")"; }
{
  echo "| figure | broker (loopback) | embedded | broker / embedded | target |"
  echo "|---|---:|---:|---:|---|"
  echo "| Ingest, $threads sync senders (msg/s) | $b_thr | $e_thr | $(ratio "$b_thr" "$e_thr") | |"
  echo "| Ingest, $inflight in flight over $conns connections (msg/s) | $b_asy | $e_asy | $(ratio "$b_asy" "$e_asy") | |"
  echo "| **Ingest, best shape of each (msg/s)** | $b_best | $e_best | $(ratio "$b_best" "$e_best") | ≥ 0.5x $(meets "$ingest_ratio >= 0.5") |"
  echo "| Ingest payload MB/s, best shape | $(calc "%.1f" "$b_best * $size / 1e6") | $(calc "%.1f" "$e_best * $size / 1e6") | | |"
  echo "| Latency p50 / p99 (µs), $threads sync senders at max | $(pair brk_threads) | $(pair emb_threads) | | |"
  echo "| CPU per message (µs), $threads sync senders: broker process / embedded process | $(res brk_threads peer_cpu_us_per_msg) | $(res emb_threads cpu_us_per_msg) | $(ratio "$(res brk_threads peer_cpu_us_per_msg)" "$(res emb_threads cpu_us_per_msg)") | |"
  echo "| CPU per message (µs), pipelined: broker process / embedded process | $(res brk_async peer_cpu_us_per_msg) | $(res emb_async cpu_us_per_msg embedded) | $(ratio "$(res brk_async peer_cpu_us_per_msg)" "$(res emb_async cpu_us_per_msg embedded)") | |"
  echo "| Load generator CPU per message (µs), sync senders / pipelined | $(res brk_threads cpu_us_per_msg) / $(res brk_async cpu_us_per_msg) | | | |"
  if [[ -f $raw/brk_threads_rc.txt ]]; then
    echo "| Ingest, $threads sync senders through RemotingClient (msg/s); its CPU per message (µs) | $(res brk_threads_rc tps); $(res brk_threads_rc cpu_us_per_msg) | $e_thr | $(ratio "$(res brk_threads_rc tps)" "$e_thr") | |"
  fi
  echo "| Send latency p50 / p99 (µs) at $half msg/s = half the best broker rate ($best_name) | $(pair brk_rate) | $(pair emb_rate) | $(ratio "$rate_p99" "$(res emb_rate p99_us)") (p99) | p99 < 2,000 µs $(meets "$rate_p99 < 2000") |"
  echo "| same, p99 from the scheduled send time (µs); achieved msg/s | $(res brk_rate sched_p99_us); $(res brk_rate tps) | $(res emb_rate sched_p99_us); $(res emb_rate tps) | | |"
  echo "| Consume from queue offset 0 (msg/s), pulls of 32 | $(res brk_consume tps) | $(res emb_async tps embedded-consume) | $(ratio "$(res brk_consume tps)" "$(res emb_async tps embedded-consume)") | |"
  echo "| Consume (MB/s payload) | $(res brk_consume mbps) | $(res emb_async mbps embedded-consume) | | |"
  if [[ $do_sync == 1 ]]; then
    echo "| SYNC_FLUSH ingest, $inflight in flight over $conns connections (msg/s) | $(res brk_sync tps) | $(res emb_sync tps) | $(ratio "$(res brk_sync tps)" "$(res emb_sync tps)") | |"
    echo "| SYNC_FLUSH latency p50 / p99 (µs) | $(pair brk_sync) | $(pair emb_sync) | | |"
  fi
  echo "| Idle broker RSS (MiB), median of $starts starts (of which anonymous) | $(mib "$rss_idle_kb") ($(mib "$(median "${anon_idle[@]}")")) | | | < 50 MiB $(meets "$rss_idle_kb < 51200") |"
  echo "| Start-up to serving (ms): accepting / first send answered, median of $starts | $acc_med / $ans_med | | | < 200 ms $(meets "$ans_med < 200") |"
  echo "| Broker RSS after the load, anonymous / total / peak (MiB; the rest is mapped segment pages) | $(mib "$anon_after") / $(mib "$rss_after") / $(mib "$hwm") | | | |"
  echo "| Clean stop on SIGTERM (ms), median | $(median "${stops[@]}") | | | |"
  echo
  if [[ $client_rows == 1 ]]; then
    # cpu: "client CPU/msg ÷ broker CPU/msg (client µs / broker µs)" of a case.
    cpu() { echo "$(res "$1" cpu_ratio_vs_peer "${2:-}") ($(res "$1" cpu_us_per_msg "${2:-}") / $(res "$1" peer_cpu_us_per_msg "${2:-}") µs)"; }
    p99r() { ratio "$(res "$2" p99_us)" "$(res "$1" p99_us)"; }
    echo "| Stele C++ client vs the raw wire client, same broker (registered with mqnamesrv), same run | raw client | Stele C++ client | client / raw | |"
    echo "|---|---:|---:|---:|---|"
    echo "| **Stele C++ client, producer**: $threads sync senders (Producer::Send), msg/s | $b_thr | $(res cl_threads tps) | $(ratio "$(res cl_threads tps)" "$b_thr") | |"
    echo "| same, latency p50 / p99 (µs) | $(pair brk_threads) | $(pair cl_threads) | $(p99r brk_threads cl_threads) (p99) | |"
    echo "| same, load generator CPU/msg ÷ broker CPU/msg (µs / µs) | $(cpu brk_threads) | $(cpu cl_threads) | | |"
    echo "| **Stele C++ client, producer**: $inflight in flight over $conns producers (SendAsync), msg/s | $b_asy | $(res cl_async tps) | $(ratio "$(res cl_async tps)" "$b_asy") | |"
    echo "| same, latency p50 / p99 (µs) | $(pair brk_async) | $(pair cl_async) | $(p99r brk_async cl_async) (p99) | |"
    echo "| same, load generator CPU/msg ÷ broker CPU/msg (µs / µs) | $(cpu brk_async) | $(cpu cl_async) | | |"
    echo "| **Stele C++ client, consumer**: the topic from offset 0 (raw: pulls of 32 on $queues threads; PushConsumer: $(res cl_consume consume_threads) consume threads), msg/s | $(res brk_consume tps) | $(res cl_consume tps) | $(ratio "$(res cl_consume tps)" "$(res brk_consume tps)") | |"
    echo "| same, messages read of the backlog; MB/s payload | $(res brk_consume msgs); $(res brk_consume mbps) | $(res cl_consume msgs) of $(res cl_consume backlog); $(res cl_consume mbps) | | |"
    echo "| same, consumer CPU/msg ÷ broker CPU/msg (µs / µs) | $(cpu brk_consume) | $(cpu cl_consume) | | |"
    echo
  fi
  echo "Failures: $(for c in "$raw"/*.txt; do n=$(grep -o 'fails=[0-9]*' "$c" | head -n 1); [[ $n != fails=0 && -n $n ]] && printf '%s %s; ' "$(basename "$c" .txt)" "$(grep -o 'fail_codes=[^ ]*' "$c" | head -n 1)"; done; true)"
  echo "Start-up runs (accept / answer ms): $(for ((i = 0; i < starts; i++)); do printf '%s/%s ' "${accepts[i]}" "${answers[i]}"; done); idle RSS KiB: ${rss_idle[*]}"
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n), kernel $(uname -r), $(nproc) CPUs; ${t_total}s; load average at start $load_start, at end $load_end (shared machine: compare only figures from one run). Client $client, $ser headers, $size-byte bodies, $queues queues, ${secs}s measured after ${warm}s warm-up."
  echo
  echo "Commands (stele_e2e_bench = $bench_bin, mqbroker = $broker_bin, mqnamesrv = ${namesrv_bin:-none}; broker.conf = $conf):"
  echo
  echo '```'
  printf '%s\n' "${commands[@]}"
  echo '```'
} | tee "$dir/results.md"
log "table written to $dir/results.md"
