#!/usr/bin/env python3
"""Stele vs. the disk: reads fio and stele_bench JSON results, prints a markdown table.

usage: compare.py --fio-sync F [--fio-sync-after F] --fio-seqwrite F --fio-seqread F [--fio-seqread-warm F]
                  --stele F [--stele F ...] [--out results.md] [--note TEXT ...]

fio files are `fio --output-format=json` outputs (fio 3.33 layout: jobs[0].write.iops,
jobs[0].write.bw_bytes, jobs[0].read.bw_bytes, and with --fdatasync=1 the fdatasync latencies in
jobs[0].sync.lat_ns.percentile["50.000000"]). stele files are `stele_bench --benchmark_format=json`
outputs; the counters used are append_MBps, appends_per_s, p50_us, p99_us and scan_MBps.
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


def stele_results(paths):
    """{(benchmark family, threads): result dict} over all files."""
    out = {}
    context = {}
    for p in paths:
        doc = load_json(p)
        context.update(doc.get("context", {}))
        for b in doc.get("benchmarks", []):
            parts = b.get("run_name", b["name"]).split("/")
            out[(parts[0], int(b.get("threads", 1)))] = b
            if len(parts) > 1 and parts[1].isdigit():  # benchmark argument, e.g. the window size
                out[(parts[0] + "/" + parts[1], int(b.get("threads", 1)))] = b
    return out, context


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
    ap.add_argument("--fio-sync", required=True)
    ap.add_argument("--fio-sync-after", help="the fdatasync case rerun after Stele's sync cases")
    ap.add_argument("--fio-seqwrite", required=True)
    ap.add_argument("--fio-seqread", required=True)
    ap.add_argument("--fio-seqread-warm")
    ap.add_argument("--stele", action="append", required=True)
    ap.add_argument("--out")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()

    sync = fio_sync(args.fio_sync)
    seqw = fio_mbps(args.fio_seqwrite, "write")
    seqr = fio_mbps(args.fio_seqread, "read")
    seqr_warm = fio_mbps(args.fio_seqread_warm, "read") if args.fio_seqread_warm else None
    stele, context = stele_results(args.stele)

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
    rows = [
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
        # The Stele scan is page-cache warm (no root to drop caches), fio's default read is cold:
        # warm can only be faster, so a miss here is conclusive and a pass only indicative.
        ("Recovery scan, page-cache warm (MB/s)", counter("BM_RecoveryScan", 1, "scan_MBps"),
         "seq read 1 MiB, cold (MB/s)", seqr, ">=", 0.5),
    ]
    if seqr_warm is not None:
        rows.append(("Recovery scan, page-cache warm (MB/s)",
                     counter("BM_RecoveryScan", 1, "scan_MBps"),
                     "seq read 1 MiB, page-cache warm (MB/s)", seqr_warm, ">=", None))

    lines = [
        "| Stele figure | Stele | fio figure | fio | ratio | target | verdict |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    missed = 0
    for label, sv, flabel, fv, direction, factor in rows:
        ratio = sv / fv if sv is not None and fv else None
        if factor is None:
            target, verdict = "(info)", ""
        else:
            target = f"{direction} {factor:g}x"
            if ratio is None:
                verdict = "n/a"
            elif (ratio >= factor) if direction == ">=" else (ratio <= factor):
                verdict = "met"
            else:
                verdict = "**missed**"
                missed += 1
        rstr = f"{ratio:.2f}x" if ratio is not None else "n/a"
        lines.append(f"| {label} | {fmt(sv)} | {flabel} | {fmt(fv)} | {rstr} | {target} | {verdict} |")

    extra = []
    for fam, thr in [("BM_AppendSync", 1), ("BM_AppendSync", 16), ("BM_AppendSync", 64),
                     ("BM_AppendAsync", 1), ("BM_AppendAsync", 4), ("BM_RecoveryScan", 1)]:
        err = error_of(fam, thr)
        if err:
            extra.append(f"- ERROR: {err}")
    labels = sorted({b.get("label", "") for b in stele.values() if b.get("label")})
    reopen = stele.get(("BM_CleanReopen", 1), {})
    if reopen and not reopen.get("error_occurred"):
        extra.append(f"- Clean reopen of a {fmt(reopen.get('log_GiB'))} GiB store: "
                     f"{fmt(reopen.get('open_ms'))} ms (bytes scanned: "
                     f"{fmt(reopen.get('scanned_bytes'))}; target: well under 1 s)")
    sync64 = stele.get(("BM_AppendSync", 64), {})
    sync16 = stele.get(("BM_AppendSync", 16), {})
    rec = stele.get(("BM_RecoveryScan", 1), {})
    extra.append(f"- Stele backend/labels: {', '.join(labels) or 'n/a'}; "
                 f"segment {int(context.get('stele_segment_bytes', 0)) >> 20} MiB "
                 f"({int(context.get('stele_sync_segment_bytes', 0)) >> 20} MiB for SYNC_FLUSH), "
                 f"body {context.get('stele_body_bytes', '?')} B "
                 f"(record {fmt(counter('BM_AppendSync', 1, 'record_bytes'))} B on disk; "
                 "append MB/s counts record bytes)")
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
    extra.append("- Single-appender sync latency is a whole Append (write + fdatasync); "
                 "the fio figure is the fdatasync call alone.")
    extra.append("- The recovery scan is page-cache warm (the records were just written); the "
                 "target compares it with fio's cold read (fio drops the file's cached pages with "
                 "fadvise first), so a miss is conclusive and a pass only indicative.")
    if args.fio_sync_after:
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
