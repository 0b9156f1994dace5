#!/usr/bin/env bash
# Measures the disk with fio and the engine with stele_bench in one run on the same directory, then
# prints a markdown table of each Stele figure against the matching fio figure and its target
# (also written to DIR/results.md; raw JSON in DIR/raw/).
#
# usage: bench/disk_compare.sh [DIR] [STELE_BENCH]
#   DIR          scratch directory on the disk under test (default: $STELE_BENCH_DIR, else
#                ./stele-bench-data); created if missing. Needs ~12 GiB free (the clean-reopen
#                case writes 10 GiB), ~3 GiB in index mode.
#   STELE_BENCH  the stele_bench binary (default: the first of build/bench/bench/, build-bench/,
#                build/, build-*/ in the repository that has one); stele_index_bench is taken
#                from the same directory unless STELE_INDEX_BENCH names it.
# Environment:
#   STELE_COMPARE    what to run: "all" (default), "append" (the commit-log cases only: fdatasync,
#                    append, recovery) or "index" (dispatch lag, reads by queue offset, key lookups,
#                    with fio's sequential reads as the baseline; about 1 minute)
#   FIO_SYNC_RUNTIME seconds for the fdatasync case (default 10)
#   STELE_BENCH_FS, STELE_BENCH_MIN_TIME, STELE_BENCH_RECOVERY_MB (stele_bench) and
#   STELE_BENCH_LAG_SECONDS, STELE_BENCH_READ_MB, STELE_BENCH_LOOKUPS (stele_index_bench) are
#   passed on; STELE_BENCH_INDEX_10M defaults to 1 here (the 10 M-key lookup case adds ~40 s and
#   ~2 GiB; set it to 0 to skip).
#
# Order matters: fdatasync latency on the project machine degrades for tens of seconds or more after
# a multi-GiB write burst (ref/perf.md), so the sync-latency cases (fio fdatasync, then Stele's
# SYNC_FLUSH cases) run before any bulk-throughput case; the dispatch-lag case (a latency figure
# under a paced 100 MB/s load) runs before the bulk writes too.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

die() {
  echo "disk_compare: $*" >&2
  exit 1
}

mode=${STELE_COMPARE:-all}
case $mode in
  all | append | index) ;;
  *) die "STELE_COMPARE must be all, append or index (not '$mode')" ;;
esac
want_append=false
want_index=false
[[ $mode != index ]] && want_append=true
[[ $mode != append ]] && want_index=true

dir=${1:-${STELE_BENCH_DIR:-./stele-bench-data}}
bin=${2:-}
if [[ -z $bin ]]; then
  for c in "$repo"/build/bench/bench/stele_bench "$repo"/build-bench/bench/stele_bench \
    "$repo"/build/bench/stele_bench "$repo"/build-*/bench/stele_bench; do
    if [[ -x $c ]]; then
      bin=$c
      break
    fi
  done
fi
[[ -n $bin && -x $bin ]] || die "stele_bench not found; build it (cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build/bench) or pass its path"
ibin=${STELE_INDEX_BENCH:-$(dirname "$bin")/stele_index_bench}
if $want_index && [[ ! -x $ibin ]]; then
  die "stele_index_bench not found at $ibin; build it next to stele_bench or set STELE_INDEX_BENCH"
fi
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

# fio NAME OUT ARGS...: one job (psync unless ARGS name another --ioengine), JSON to OUT.
run_fio() {
  local name=$1 out=$2
  shift 2
  local engine=--ioengine=psync
  [[ " $* " == *" --ioengine="* ]] && engine=
  log "fio $name"
  fio --name="$name" ${engine:+"$engine"} --output-format=json --output="$out" "$@" >/dev/null
}

# stele FILTER OUT [BIN]: cases of BIN (default stele_bench) matching FILTER, JSON to OUT, engine
# log to OUT.log.
run_stele() {
  local filter=$1 out=$2 b=${3:-$bin}
  log "$(basename "$b") --benchmark_filter='$filter'"
  if ! STELE_BENCH_DIR=$dir "$b" --benchmark_filter="$filter" --benchmark_format=json \
    >"$out" 2>"$out.log"; then
    tail -n 20 "$out.log" >&2
    die "$(basename "$b") failed (log: $out.log)"
  fi
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_start%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  log "WARNING: load average ${load_start%% *} on $(nproc) CPUs: something else is running; figures will be noisy"
fi
t0=$(date +%s)
log "mode $mode; directory $dir; stele_bench $bin"
$want_index && log "stele_index_bench $ibin"

stele_json=()
compare_args=()
if $want_append; then
  # 1. Sync latency first: 4 KiB write + fdatasync per op on an already-written file.
  run_fio fdatasync4k "$raw/fio_sync.json" --filename="$data/sync.dat" --rw=write --bs=4k \
    --size=256M --overwrite=1 --fdatasync=1 --time_based --runtime="$sync_rt"
  run_stele '^BM_AppendSync' "$raw/stele_sync.json"
  # The same fio case again (shorter): if the disk's fdatasync figures moved a lot while Stele ran,
  # the sync ratios are not trustworthy (compare.py flags it).
  run_fio fdatasync4k_after "$raw/fio_sync_after.json" --filename="$data/sync.dat" --rw=write \
    --bs=4k --size=256M --overwrite=1 --fdatasync=1 --time_based --runtime="$(((sync_rt + 1) / 2))"
  rm -f "$data/sync.dat"
  stele_json+=("$raw/stele_sync.json")
  compare_args+=(--fio-sync "$raw/fio_sync.json" --fio-sync-after "$raw/fio_sync_after.json")
fi

if $want_index; then
  # 2. Dispatch lag: a paced 1 KiB load, before any bulk write leaves write-back debt behind.
  run_stele '^BM_DispatchLag' "$raw/stele_lag.json" "$ibin"
  stele_json+=("$raw/stele_lag.json")
fi

# 3. Bulk throughput: buffered sequential write (1 GiB, 1 MiB blocks, fsync at the end), then
#    sequential reads of the same file, page-cache warm and cold (fio drops the file's own cached
#    pages with fadvise; no root needed). Stele reads by queue offset through a read-only mmap of
#    the segments, i.e. through the page cache with the kernel's readahead, so the baseline is a
#    buffered read of a cold file (O_DIRECT would measure a path Stele does not use). The mmap
#    engine (which also asks for MADV_SEQUENTIAL) shows what the access method alone costs.
run_fio seqwrite "$raw/fio_seqwrite.json" --filename="$data/seq.dat" --rw=write --bs=1M \
  --size=1G --end_fsync=1
run_fio seqread_warm "$raw/fio_seqread_warm.json" --filename="$data/seq.dat" --rw=read \
  --bs=1M --size=1G --invalidate=0
run_fio seqread "$raw/fio_seqread.json" --filename="$data/seq.dat" --rw=read --bs=1M \
  --size=1G --invalidate=1
compare_args+=(--fio-seqwrite "$raw/fio_seqwrite.json" --fio-seqread "$raw/fio_seqread.json"
  --fio-seqread-warm "$raw/fio_seqread_warm.json")
if $want_index; then
  run_fio seqread_mmap "$raw/fio_seqread_mmap.json" --filename="$data/seq.dat" --rw=read \
    --bs=1M --size=1G --invalidate=1 --ioengine=mmap
  compare_args+=(--fio-seqread-mmap "$raw/fio_seqread_mmap.json")
fi
rm -f "$data/seq.dat"

if $want_index; then
  # 4. Reads by queue offset (warm, then cold: same eviction as fio's) and key lookups, right
  #    after fio's reads so that both see the machine in the same state.
  STELE_BENCH_INDEX_10M=${STELE_BENCH_INDEX_10M:-1} \
    run_stele '^BM_(ReadByQueueOffset|IndexLookup)' "$raw/stele_index.json" "$ibin"
  stele_json+=("$raw/stele_index.json")
fi

if $want_append; then
  run_stele '^BM_(AppendAsync|AppendAsyncWindow|RecoveryScan|CleanReopen)' "$raw/stele_bulk.json"
  stele_json+=("$raw/stele_bulk.json")
fi

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - t0))
log "done in ${elapsed}s"

for f in "${stele_json[@]}"; do
  compare_args+=(--stele "$f")
done
fio_note="fio $(fio --version) psync:"
$want_append && fio_note+=" fdatasync4k = --rw=write --bs=4k --size=256M --overwrite=1 --fdatasync=1 --runtime=${sync_rt};"
fio_note+=" seqwrite = --rw=write --bs=1M --size=1G --end_fsync=1; seqread = --rw=read --bs=1M --size=1G (cold: fio's default --invalidate=1; warm: --invalidate=0)"
$want_index && fio_note+="; seqread via mmap = the cold read with --ioengine=mmap"
python3 "$here/compare.py" "${compare_args[@]}" \
  --out "$dir/results.md" \
  --note "Run ($mode) $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n), kernel $(uname -r), $(nproc) CPUs; ${elapsed}s; load average at start ${load_start}, at end ${load_end} (the machine may be shared: compare only figures from one run)" \
  --note "$fio_note"
log "table written to $dir/results.md"
