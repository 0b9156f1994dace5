#!/usr/bin/env bash
# Measures the disk with fio and the engine with stele_bench in one run on the same directory, then
# prints a markdown table of each Stele figure against the matching fio figure and its target
# (also written to DIR/results.md; raw JSON in DIR/raw/).
#
# usage: bench/disk_compare.sh [DIR] [STELE_BENCH]
#   DIR          scratch directory on the disk under test (default: $STELE_BENCH_DIR, else
#                ./stele-bench-data); created if missing. Needs ~3 GiB free.
#   STELE_BENCH  the stele_bench binary (default: the first of build-bench/, build/, build-*/ in
#                the repository that has one)
# Environment: FIO_SYNC_RUNTIME (seconds for the fdatasync case, default 10); STELE_BENCH_FS,
#   STELE_BENCH_MIN_TIME and STELE_BENCH_RECOVERY_MB are passed on to stele_bench.
#
# Order matters: fdatasync latency on the project machine degrades for tens of seconds or more after
# a multi-GiB write burst (ref/perf.md), so the sync-latency cases (fio fdatasync, then Stele's
# SYNC_FLUSH cases) run before any bulk-throughput case.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

die() {
  echo "disk_compare: $*" >&2
  exit 1
}

dir=${1:-${STELE_BENCH_DIR:-./stele-bench-data}}
bin=${2:-}
if [[ -z $bin ]]; then
  for c in "$repo"/build-bench/bench/stele_bench "$repo"/build/bench/stele_bench \
    "$repo"/build-*/bench/stele_bench; do
    if [[ -x $c ]]; then
      bin=$c
      break
    fi
  done
fi
[[ -n $bin && -x $bin ]] || die "stele_bench not found; build it (cmake --build build-bench) or pass its path"
command -v fio >/dev/null || die "fio is not installed"
command -v python3 >/dev/null || die "python3 is not installed"
sync_rt=${FIO_SYNC_RUNTIME:-10}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
raw=$dir/raw
data=$dir/fio-data
mkdir -p "$raw" "$data"
rm -f "$raw"/*.json "$raw"/*.log

cleanup() {
  rm -rf "$data"
  # stele_bench removes its stores itself; these are leftovers of an interrupted run.
  rm -rf "$dir"/stele-[0-9]*-*
}
trap cleanup EXIT

log() { echo "[$(date +%T)] $*" >&2; }

# fio NAME OUT ARGS...: one psync job, JSON to OUT.
run_fio() {
  local name=$1 out=$2
  shift 2
  log "fio $name"
  fio --name="$name" --ioengine=psync --output-format=json --output="$out" "$@" >/dev/null
}

# stele FILTER OUT: stele_bench cases matching FILTER, JSON to OUT, engine log to OUT.log.
run_stele() {
  local filter=$1 out=$2
  log "stele_bench --benchmark_filter='$filter'"
  if ! STELE_BENCH_DIR=$dir "$bin" --benchmark_filter="$filter" --benchmark_format=json \
    >"$out" 2>"$out.log"; then
    tail -n 20 "$out.log" >&2
    die "stele_bench failed (log: $out.log)"
  fi
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_start%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  log "WARNING: load average ${load_start%% *} on $(nproc) CPUs: something else is running; figures will be noisy"
fi
t0=$(date +%s)
log "directory $dir; stele_bench $bin"

# 1. Sync latency first: 4 KiB write + fdatasync per op on an already-written file.
run_fio fdatasync4k "$raw/fio_sync.json" --filename="$data/sync.dat" --rw=write --bs=4k \
  --size=256M --overwrite=1 --fdatasync=1 --time_based --runtime="$sync_rt"
run_stele '^BM_AppendSync' "$raw/stele_sync.json"
# The same fio case again (shorter): if the disk's fdatasync figures moved a lot while Stele ran, the
# sync ratios are not trustworthy (compare.py flags it).
run_fio fdatasync4k_after "$raw/fio_sync_after.json" --filename="$data/sync.dat" --rw=write \
  --bs=4k --size=256M --overwrite=1 --fdatasync=1 --time_based --runtime="$(((sync_rt + 1) / 2))"
rm -f "$data/sync.dat"

# 2. Bulk throughput: buffered sequential write (1 GiB, 1 MiB blocks, fsync at the end), then
#    sequential reads of the same file, page-cache warm and cold (fio drops the file's own cached
#    pages with fadvise; no root needed).
run_fio seqwrite "$raw/fio_seqwrite.json" --filename="$data/seq.dat" --rw=write --bs=1M \
  --size=1G --end_fsync=1
run_fio seqread_warm "$raw/fio_seqread_warm.json" --filename="$data/seq.dat" --rw=read \
  --bs=1M --size=1G --invalidate=0
run_fio seqread "$raw/fio_seqread.json" --filename="$data/seq.dat" --rw=read --bs=1M \
  --size=1G --invalidate=1
rm -f "$data/seq.dat"
run_stele '^BM_(AppendAsync|AppendAsyncWindow|RecoveryScan|CleanReopen)' "$raw/stele_bulk.json"

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - t0))
log "done in ${elapsed}s"

python3 "$here/compare.py" \
  --fio-sync "$raw/fio_sync.json" --fio-sync-after "$raw/fio_sync_after.json" \
  --fio-seqwrite "$raw/fio_seqwrite.json" \
  --fio-seqread "$raw/fio_seqread.json" --fio-seqread-warm "$raw/fio_seqread_warm.json" \
  --stele "$raw/stele_sync.json" --stele "$raw/stele_bulk.json" \
  --out "$dir/results.md" \
  --note "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n), kernel $(uname -r), $(nproc) CPUs; ${elapsed}s; load average at start ${load_start}, at end ${load_end} (the machine may be shared: compare only figures from one run)" \
  --note "fio $(fio --version) psync: fdatasync4k = --rw=write --bs=4k --size=256M --overwrite=1 --fdatasync=1 --runtime=${sync_rt}; seqwrite = --rw=write --bs=1M --size=1G --end_fsync=1; seqread = --rw=read --bs=1M --size=1G (cold: fio's default --invalidate=1; warm: --invalidate=0)"
log "table written to $dir/results.md"
