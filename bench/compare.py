#!/usr/bin/env python3
"""Stele vs. the disk: reads fio and stele_bench JSON results, prints a markdown table.

usage: compare.py [--fio-sync F [--fio-sync-after F]] [--fio-seqwrite F] --fio-seqread F
                  [--fio-seqread-warm F] [--fio-seqread-mmap F]
                  --stele F [--stele F ...] [--out results.md] [--note TEXT ...]

Rows whose fio baseline was not given are left out (bench/disk_compare.sh's index-only mode runs
no fdatasync case).

fio files are `fio --output-format=json` outputs (fio 3.33 layout: jobs[0].write.iops,
jobs[0].write.bw_bytes, jobs[0].read.bw_bytes, and with --fdatasync=1 the fdatasync latencies in
jobs[0].sync.lat_ns.percentile["50.000000"]). stele files are `stele_bench --benchmark_format=json`
outputs (stele_bench and stele_index_bench); the counters used are append_MBps, appends_per_s,
p50_us, p99_us, scan_MBps, read_MBps, lag_p50_us, lag_p99_us, achieved_per_s and lookup_p*_us.
MB = 1e6 bytes everywhere. Only the Python standard library is used.
"""

import argparse
import json
import sys


def load_json(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # fio may print notes before the JSON document; start at the first brace.
    start = text.find("{")
    if start < 0:
        raise ValueError(f"{path}: no JSON document")
    return json.loads(text[start:])


def fio_job(path):
    doc = load_json(path)
    jobs = doc.get("jobs") or []
    if not jobs:
        raise ValueError(f"{path}: no fio jobs")
    job = jobs[0]
    if job.get("error"):
        raise ValueError(f"{path}: fio job failed with error {job['error']}")
    return job


def fio_sync(path):
    job = fio_job(path)
    pct = job["sync"]["lat_ns"]["percentile"]
    return {
        "ops": job["write"]["iops"],
        "p50_us": pct["50.000000"] / 1e3,
        "p99_us": pct["99.000000"] / 1e3,
    }


def fio_mbps(path, direction):
    return fio_job(path)[direction]["bw_bytes"] / 1e6


def fio_mb_per_cpu_s(path, direction):
    """MB moved per second of fio's own CPU time (usr_cpu and sys_cpu are % of its runtime)."""
    job = fio_job(path)
    cpu = (job.get("usr_cpu", 0) + job.get("sys_cpu", 0)) / 100
    return job[direction]["bw_bytes"] / 1e6 / cpu if cpu > 0 else None


def stele_results(paths):
    """{(benchmark family, threads): result dict} over all files, and the same results under
    their argument part of the name: {"BM_DispatchLag/rate:100000/keys:0": result}."""
    out = {}
    named = {}
    context = {}
    for p in paths:
        doc = load_json(p)
        context.update(doc.get("context", {}))
        for b in doc.get("benchmarks", []):
            parts = b.get("run_name", b["name"]).split("/")
            out[(parts[0], int(b.get("threads", 1)))] = b
            if len(parts) > 1 and parts[1].isdigit():  # benchmark argument, e.g. the window size
                out[(parts[0] + "/" + parts[1], int(b.get("threads", 1)))] = b
            # Drop what Google Benchmark appends for the run's settings.
            args = [x for x in parts if not x.startswith(("iterations:", "threads:", "min_time:",
                                                            "repeats:"))
                    and x not in ("manual_time", "real_time")]
            named["/".join(args)] = b
    return out, named, context


def index_notes(named):
    """Bullet lines on the stele_index_bench cases (setup costs, what was measured)."""
    out = []
    lag = named.get("BM_DispatchLag/rate:100000/keys:0", {})
    lagk = named.get("BM_DispatchLag/rate:100000/keys:1", {})
    if lag and not lag.get("error_occurred"):
        out.append(f"- Dispatch lag (listener sees the queue cover the message - Append returned), "
                   f"{fmt(lag.get('messages'))} msgs paced at {fmt(lag.get('target_per_s'))}/s, "
                   f"achieved {fmt(lag.get('achieved_per_s'))}/s: p50 {fmt(lag.get('lag_p50_us'))} "
                   f"µs, p99 {fmt(lag.get('lag_p99_us'))} µs, p99.9 "
                   f"{fmt(lag.get('lag_p999_us'))} µs, max {fmt(lag.get('lag_max_us'))} µs; "
                   f"from before the Append call: p50 {fmt(lag.get('call_lag_p50_us'))} µs, p99 "
                   f"{fmt(lag.get('call_lag_p99_us'))} µs; readable before Append returned: "
                   f"{fmt(lag.get('visible_before_return'))}; producer at most "
                   f"{fmt(lag.get('pacing_behind_max_us'))} µs behind its schedule")
    if lagk and not lagk.get("error_occurred"):
        out.append(f"- With a unique key per message (indexed): achieved "
                   f"{fmt(lagk.get('achieved_per_s'))}/s, lag p50 {fmt(lagk.get('lag_p50_us'))} "
                   f"µs, p99 {fmt(lagk.get('lag_p99_us'))} µs, max {fmt(lagk.get('lag_max_us'))} µs")
    for cold in (0, 1):
        r = named.get(f"BM_ReadByQueueOffset/cold:{cold}", {})
        if r and not r.get("error_occurred"):
            extra = (f"; commit log resident in page cache at start: "
                     f"{fmt(r.get('resident_at_start_pct'))} %" if cold else "")
            out.append(f"- Read by queue offset ({'cold' if cold else 'warm'}): "
                       f"{fmt(r.get('messages'))} msgs / {fmt(r.get('log_MB'))} MB in one queue, "
                       f"Get(max_messages=32), each record copied out: "
                       f"{fmt(r.get('msgs_per_s'))} msgs/s, {fmt(r.get('read_MBps'))} MB/s; the "
                       f"reader was on a CPU {fmt(r.get('reader_cpu_pct'))} % of the time{extra}")
    for n in (1_000_000, 10_000_000):
        r = named.get(f"BM_IndexLookup/keys:{n}", {})
        if r and not r.get("error_occurred"):
            out.append(f"- Key lookups, {fmt(r.get('keys'))} keys: setup (AppendBatch + dispatch "
                       f"of {fmt(r.get('log_MB'))} MB) {fmt(r.get('setup_s'))} s = "
                       f"{fmt(r.get('setup_keys_per_s'))} keys/s; QueryByKey p50 "
                       f"{fmt(r.get('lookup_p50_us'))} µs, p99 {fmt(r.get('lookup_p99_us'))} µs, "
                       f"p99.9 {fmt(r.get('lookup_p999_us'))} µs, max "
                       f"{fmt(r.get('lookup_max_us'))} µs (wall clock); mean CPU per lookup "
                       f"{fmt(r.get('lookup_cpu_us'))} µs; results not exactly one message: "
                       f"{fmt(r.get('not_exactly_one'))}")
    return out


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if v == int(v) and abs(v) < 100:
        return f"{int(v)}{unit}"
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fio-sync")
    ap.add_argument("--fio-sync-after", help="the fdatasync case rerun after Stele's sync cases")
    ap.add_argument("--fio-seqwrite")
    ap.add_argument("--fio-seqread", required=True)
    ap.add_argument("--fio-seqread-warm")
    ap.add_argument("--fio-seqread-mmap", help="cold sequential read with fio's mmap engine")
    ap.add_argument("--stele", action="append", required=True)
    ap.add_argument("--out")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()

    sync = fio_sync(args.fio_sync) if args.fio_sync else None
    seqw = fio_mbps(args.fio_seqwrite, "write") if args.fio_seqwrite else None
    seqr = fio_mbps(args.fio_seqread, "read")
    seqr_warm = fio_mbps(args.fio_seqread_warm, "read") if args.fio_seqread_warm else None
    seqr_mmap = fio_mbps(args.fio_seqread_mmap, "read") if args.fio_seqread_mmap else None
    stele, named, context = stele_results(args.stele)
    has_append = any(k[0].startswith("BM_Append") or k[0] in ("BM_RecoveryScan", "BM_CleanReopen")
                     for k in stele)
    has_index = any(k.startswith(("BM_DispatchLag", "BM_ReadByQueueOffset", "BM_IndexLookup"))
                    for k in named)

    def ncounter(name, counter_name):
        b = named.get(name)
        if b is None or b.get("error_occurred"):
            return None
        return b.get(counter_name)

    def counter(family, threads, name):
        b = stele.get((family, threads))
        if b is None or b.get("error_occurred"):
            return None
        return b.get(name)

    def error_of(family, threads):
        b = stele.get((family, threads))
        if b is None:
            return f"{family} threads:{threads} missing from the stele_bench output"
        if b.get("error_occurred"):
            return f"{family} threads:{threads} failed: {b.get('error_message', '?')}"
        return None

    # (label, stele value, fio label, fio value, direction, target factor or None)
    #   direction ">=": pass if stele >= factor * fio;  "<=": pass if stele <= factor * fio
    #   fio value None (fio label "absolute"): the target is `factor` itself, in the row's unit
    rows = []
    if has_append and seqw is not None:
        rows += [
            ("Async append, 1 appender (MB/s)", counter("BM_AppendAsync", 1, "append_MBps"),
             "seq write 1 MiB + end_fsync (MB/s)", seqw, ">=", 0.8),
            ("Async append, 4 appenders (MB/s)", counter("BM_AppendAsync", 4, "append_MBps"),
             "seq write 1 MiB + end_fsync (MB/s)", seqw, ">=", 0.8),
            ("Async append, 256 in flight via AppendAsync (MB/s)",
             counter("BM_AppendAsyncWindow/256", 1, "append_MBps"),
             "seq write 1 MiB + end_fsync (MB/s)", seqw, ">=", None),
            ("Async append + final Flush, 1 appender (MB/s)",
             counter("BM_AppendAsync", 1, "append_flushed_MBps"),
             "seq write 1 MiB + end_fsync (MB/s)", seqw, ">=", None),
        ]
    if has_append and sync is not None:
        rows += [
            ("Sync append, 64 appenders (appends/s)", counter("BM_AppendSync", 64, "appends_per_s"),
             "4 KiB write+fdatasync (ops/s)", sync["ops"], ">=", 20),
            ("Sync append, 64 in flight via AppendAsync (appends/s)",
             counter("BM_AppendSyncWindow/64", 1, "appends_per_s"),
             "4 KiB write+fdatasync (ops/s)", sync["ops"], ">=", 20),
            ("Sync append, 256 in flight via AppendAsync (appends/s)",
             counter("BM_AppendSyncWindow/256", 1, "appends_per_s"),
             "4 KiB write+fdatasync (ops/s)", sync["ops"], ">=", None),
            ("Sync append, 16 appenders (appends/s)", counter("BM_AppendSync", 16, "appends_per_s"),
             "4 KiB write+fdatasync (ops/s)", sync["ops"], ">=", None),
            ("Sync append, 1 appender (appends/s)", counter("BM_AppendSync", 1, "appends_per_s"),
             "4 KiB write+fdatasync (ops/s)", sync["ops"], ">=", None),
            ("Sync append latency p50, 1 appender (µs)", counter("BM_AppendSync", 1, "p50_us"),
             "fdatasync latency p50 (µs)", sync["p50_us"], "<=", 1.3),
            ("Sync append latency p99, 1 appender (µs)", counter("BM_AppendSync", 1, "p99_us"),
             "fdatasync latency p99 (µs)", sync["p99_us"], "<=", None),
        ]
    if has_append:
        # The Stele scan is page-cache warm (the records were just written), fio's default read is
        # cold: warm can only be faster, so a miss here is conclusive and a pass only indicative.
        rows.append(("Recovery scan, page-cache warm (MB/s)",
                     counter("BM_RecoveryScan", 1, "scan_MBps"),
                     "seq read 1 MiB, cold (MB/s)", seqr, ">=", 0.5))
        if seqr_warm is not None:
            rows.append(("Recovery scan, page-cache warm (MB/s)",
                         counter("BM_RecoveryScan", 1, "scan_MBps"),
                         "seq read 1 MiB, page-cache warm (MB/s)", seqr_warm, ">=", None))
    lag_rate = ncounter("BM_DispatchLag/rate:100000/keys:0", "achieved_per_s")
    if has_index:
        # Reads by queue offset go through the page cache (mmap), so the baseline is fio's
        # buffered read of a file dropped from the cache the same way (fadvise DONTNEED).
        rows.append(("Read by queue offset, 1 KiB msgs, cold (MB/s)",
                     ncounter("BM_ReadByQueueOffset/cold:1", "read_MBps"),
                     "seq read 1 MiB, cold (MB/s)", seqr, ">=", 0.5))
        # Per second of the reader's own CPU time: on a shared 2-CPU machine the wall-clock
        # figures above also measure who else wanted the CPUs.
        rows.append(("Read by queue offset, cold, per reader CPU-second (MB)",
                     ncounter("BM_ReadByQueueOffset/cold:1", "read_MB_per_cpu_s"),
                     "seq read 1 MiB, cold, per fio CPU-second (MB)",
                     fio_mb_per_cpu_s(args.fio_seqread, "read"), ">=", None))
        if seqr_mmap is not None:
            rows.append(("Read by queue offset, 1 KiB msgs, cold (MB/s)",
                         ncounter("BM_ReadByQueueOffset/cold:1", "read_MBps"),
                         "seq read 1 MiB via mmap, cold (MB/s)", seqr_mmap, ">=", None))
        if seqr_warm is not None:
            rows.append(("Read by queue offset, 1 KiB msgs, warm (MB/s)",
                         ncounter("BM_ReadByQueueOffset/cold:0", "read_MBps"),
                         "seq read 1 MiB, page-cache warm (MB/s)", seqr_warm, ">=", None))
        rows += [
            ("Dispatch lag p99 at 100k msgs/s, 1 KiB (µs)",
             ncounter("BM_DispatchLag/rate:100000/keys:0", "lag_p99_us"),
             "absolute", None, "<=", 1000),
            ("Dispatch lag p50 at 100k msgs/s, 1 KiB (µs)",
             ncounter("BM_DispatchLag/rate:100000/keys:0", "lag_p50_us"),
             "absolute", None, "<=", None),
            ("Dispatch lag p99, 100k msgs/s, each with a key (µs)",
             ncounter("BM_DispatchLag/rate:100000/keys:1", "lag_p99_us"),
             "absolute", None, "<=", None),
            ("Rate achieved by the paced producer (msgs/s)", lag_rate,
             "absolute", None, ">=", None),
        ]
        for n, label in [(1_000_000, "1 M"), (10_000_000, "10 M")]:
            name = f"BM_IndexLookup/keys:{n}"
            if name not in named:
                continue
            rows += [
                (f"Key lookup p50, {label} keys, warm (µs)", ncounter(name, "lookup_p50_us"),
                 "absolute", None, "<=", None),
                (f"Key lookup p99, {label} keys, warm (µs)", ncounter(name, "lookup_p99_us"),
                 "absolute", None, "<=", None),
            ]

    lines = [
        "| Stele figure | Stele | fio figure | fio | ratio | target | verdict |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    missed = 0
    for label, sv, flabel, fv, direction, factor in rows:
        absolute = flabel == "absolute"
        # An absolute target compares the figure itself; otherwise the Stele/fio ratio.
        ratio = sv / fv if sv is not None and fv else None
        value = sv if absolute else ratio
        if factor is None:
            target, verdict = "(info)", ""
        else:
            target = f"{direction} {fmt(factor)}" if absolute else f"{direction} {factor:g}x"
            if value is None:
                verdict = "n/a"
            elif (value >= factor) if direction == ">=" else (value <= factor):
                verdict = "met"
            else:
                verdict = "**missed**"
                missed += 1
        if absolute and factor is not None and label.startswith("Dispatch lag") and verdict == "met":
            # The lag target holds "at 100k msgs/s": a producer that fell behind proves nothing.
            if lag_rate is None or lag_rate < 0.95 * 100_000:
                verdict = f"n/a (rate {fmt(lag_rate)}/s < 95k)"
        rstr = "—" if absolute else (f"{ratio:.2f}x" if ratio is not None else "n/a")
        fstr = "—" if absolute else fmt(fv)
        flabel = "(absolute target)" if absolute else flabel
        lines.append(f"| {label} | {fmt(sv)} | {flabel} | {fstr} | {rstr} | {target} | {verdict} |")

    extra = []
    for fam, thr in [("BM_AppendSync", 1), ("BM_AppendSync", 16), ("BM_AppendSync", 64),
                     ("BM_AppendAsync", 1), ("BM_AppendAsync", 4), ("BM_RecoveryScan", 1)]:
        err = error_of(fam, thr) if has_append else None
        if err:
            extra.append(f"- ERROR: {err}")
    if has_index:
        for name in ["BM_DispatchLag/rate:100000/keys:0", "BM_DispatchLag/rate:100000/keys:1",
                     "BM_ReadByQueueOffset/cold:0", "BM_ReadByQueueOffset/cold:1",
                     "BM_IndexLookup/keys:1000000"]:
            b = named.get(name)
            if b is None:
                extra.append(f"- ERROR: {name} missing from the stele_index_bench output")
            elif b.get("error_occurred"):
                extra.append(f"- ERROR: {name} failed: {b.get('error_message', '?')}")
    labels = sorted({b.get("label", "") for b in stele.values() if b.get("label")})
    reopen = stele.get(("BM_CleanReopen", 1), {})
    if reopen and not reopen.get("error_occurred"):
        extra.append(f"- Clean reopen of a {fmt(reopen.get('log_GiB'))} GiB store: "
                     f"{fmt(reopen.get('open_ms'))} ms (bytes scanned: "
                     f"{fmt(reopen.get('scanned_bytes'))}; target: well under 1 s)")
    sync64 = stele.get(("BM_AppendSync", 64), {})
    sync16 = stele.get(("BM_AppendSync", 16), {})
    rec = stele.get(("BM_RecoveryScan", 1), {})
    record = counter("BM_AppendSync", 1, "record_bytes")
    if record is None:  # index-only run: the read case's log size / message count
        rd = named.get("BM_ReadByQueueOffset/cold:0", {})
        if rd.get("messages"):
            record = rd["log_MB"] * 1e6 / rd["messages"]
    sync_seg = int(context.get("stele_sync_segment_bytes", 0)) >> 20
    extra.append(f"- Stele backend/labels: {', '.join(labels) or 'n/a'}; "
                 f"segment {int(context.get('stele_segment_bytes', 0)) >> 20} MiB"
                 + (f" ({sync_seg} MiB for SYNC_FLUSH)" if sync_seg else "") +
                 f", body {context.get('stele_body_bytes', '?')} B "
                 f"(record {fmt(record)} B on disk; "
                 "append and read MB/s count record bytes)")
    if sync64:
        extra.append(f"- Sync 64 appenders: p50 {fmt(sync64.get('p50_us'))} µs, "
                     f"p99 {fmt(sync64.get('p99_us'))} µs; 16 appenders: p50 "
                     f"{fmt(sync16.get('p50_us'))} µs, p99 {fmt(sync16.get('p99_us'))} µs; "
                     f"FLUSH_DISK_TIMEOUTs: {fmt(sync64.get('timeouts'))} / "
                     f"{fmt(sync16.get('timeouts'))}")
    if rec:
        extra.append(f"- Recovery: {fmt(rec.get('scanned_MB'))} MB / "
                     f"{fmt(rec.get('records_scanned'))} records scanned in "
                     f"{fmt(rec.get('recovery_s'))} s (whole Store::Open "
                     f"{fmt(rec.get('open_s'))} s)")
    if has_index:
        extra += index_notes(named)
    if has_append:
        extra.append("- Single-appender sync latency is a whole Append (write + fdatasync); "
                     "the fio figure is the fdatasync call alone.")
        extra.append("- The recovery scan is page-cache warm (the records were just written); the "
                     "target compares it with fio's cold read (fio drops the file's cached pages "
                     "with fadvise first), so a miss is conclusive and a pass only indicative.")
    if args.fio_sync_after and sync is not None:
        after = fio_sync(args.fio_sync_after)
        drift = max(after["ops"], sync["ops"]) / max(min(after["ops"], sync["ops"]), 1e-9)
        warn = (" — **the disk's fdatasync rate moved by more than 25 % during the run: the sync "
                "ratios are unreliable**" if drift > 1.25 else "")
        extra.append(f"- fio fdatasync before Stele's sync cases: {fmt(sync['ops'])} ops/s, p50 "
                     f"{fmt(sync['p50_us'])} µs; after: {fmt(after['ops'])} ops/s, p50 "
                     f"{fmt(after['p50_us'])} µs{warn}")
    extra += [f"- {n}" for n in args.note]

    text = "\n".join(lines) + "\n\n" + "\n".join(extra) + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("# Stele vs. fio on the same directory\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
