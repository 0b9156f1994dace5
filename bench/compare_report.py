#!/usr/bin/env python3
"""The two halves of bench/compare that are easier in Python than in bash.

  compare_report.py row EXP SYSTEM DURABILITY SIZE CONC TOPICS KIND FILE [NOTE]
      Parses one tool's output FILE (KIND: fio, fio_read, stele, redis, dbbench, result) and prints
      one CSV row (no header) of the run's results table: msgs/s, MB/s, latency percentiles, CPU
      per message, RSS. Exits 1 with a message when FILE holds no result.
  compare_report.py report ROWS.csv OUTDIR [--note TEXT ...] [--title TEXT]
      Reads every row of one run, adds to each the ratio to its disk limit and to the best peer of
      the same run, and writes OUTDIR/<experiment>.csv (one per experiment, with a header), PNG
      plots (matplotlib, Agg) and OUTDIR/README.md (markdown tables); prints README.md.

Durability classes: "durable" (acknowledged after fdatasync: Stele SYNC_FLUSH, Redis appendfsync
always, RocksDB sync=1, SQLite WAL FULL), "periodic" (acknowledged from memory, flushed in the
background: Stele ASYNC_FLUSH, Redis everysec, RocksDB sync=0, SQLite NORMAL, NATS JetStream 2.9
whose file store has no per-message fsync), "disk" (fio, the C loop, memcpy), "read" (catch-up).
The disk limit of a durable row is fio's one-writer write+fdatasync ops/s (a ratio of operations);
of a periodic row fio's sequential buffered write MB/s (a ratio of bytes); of a read row fio's cold
sequential read MB/s. The best peer is the non-Stele row of the same experiment, durability and
x value (size, concurrency or topics) with the most msgs/s (the plain C loop is a disk reference,
not a peer).
MB = 1e6 bytes.
"""

import csv
import json
import os
import re
import sys

COLUMNS = ["exp", "system", "durability", "size", "conc", "topics", "msgs_per_s", "mb_per_s",
           "p50_us", "p99_us", "p999_us", "max_us", "cpu_us_per_msg", "rss_kb", "note"]


def kv_line(text, prefix="RESULT"):
    """key=value pairs of the last line starting with `prefix`."""
    found = None
    for line in text.splitlines():
        if line.startswith(prefix):
            found = line
    if found is None:
        return None
    out = {}
    for tok in found.split()[1:]:
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


def fnum(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def parse_fio(text, direction):
    start = text.find("{")
    if start < 0:
        return None
    job = json.loads(text[start:])["jobs"][0]
    if job.get("error"):
        raise ValueError(f"fio job failed with error {job['error']}")
    d = job[direction]
    lat = d.get("clat_ns", {}).get("percentile", {})
    # With --fdatasync=1 a commit is the write plus the fdatasync: take the sync latencies.
    sync = job.get("sync", {}).get("lat_ns", {})
    if sync.get("N"):
        lat = sync.get("percentile", {})
    pct = lambda p: lat.get(p, 0) / 1e3 if lat else None
    ops = d["iops"]
    return {"msgs_per_s": ops, "mb_per_s": d["bw_bytes"] / 1e6, "p50_us": pct("50.000000"),
            "p99_us": pct("99.000000"), "p999_us": pct("99.900000"),
            "max_us": (sync.get("max") if sync.get("N") else d.get("clat_ns", {}).get("max", 0)) / 1e3}


def parse_stele(text, size):
    r = kv_line(text)
    if r is None:
        return None
    rss = r.get("peer_rss_kb")
    cpu = fnum(r.get("cpu_us_per_msg"))
    peer = fnum(r.get("peer_cpu_us_per_msg"))
    if peer is not None and peer >= 0 and cpu is not None:
        cpu += peer  # the broker's CPU and the load generator's
    return {"msgs_per_s": fnum(r.get("tps")), "mb_per_s": fnum(r.get("mbps")),
            "p50_us": fnum(r.get("p50_us")), "p99_us": fnum(r.get("p99_us")),
            "p999_us": fnum(r.get("p999_us")), "max_us": fnum(r.get("max_us")),
            "cpu_us_per_msg": cpu, "rss_kb": fnum(rss), "fails": r.get("fails")}


def parse_redis(text, size):
    # redis-benchmark --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
    # "p95_latency_ms","p99_latency_ms","max_latency_ms"
    rows = [r for r in csv.reader(text.splitlines()) if len(r) >= 8 and r[0] != "test"]
    if not rows:
        return None
    r = rows[-1]
    rps = float(r[1])
    return {"msgs_per_s": rps, "mb_per_s": rps * size / 1e6, "p50_us": float(r[4]) * 1e3,
            "p99_us": float(r[6]) * 1e3, "p999_us": None, "max_us": float(r[7]) * 1e3}


def parse_dbbench(text, size):
    m = re.search(r"^fillseq\s*:\s*([\d.]+) micros/op (\d+) ops/sec", text, re.M)
    if not m:
        return None
    ops = float(m.group(2))
    out = {"msgs_per_s": ops, "mb_per_s": ops * size / 1e6}
    p = re.search(r"Percentiles: P50: ([\d.]+) P75: [\d.]+ P99: ([\d.]+) P99.9: ([\d.]+)", text)
    if p:
        out.update(p50_us=float(p.group(1)), p99_us=float(p.group(2)), p999_us=float(p.group(3)))
    mx = re.search(r"Min: [\d.]+\s+Median: [\d.]+\s+Max: ([\d.]+)", text)
    if mx:
        out["max_us"] = float(mx.group(1))
    return out


def parse_result(text, size):
    r = kv_line(text)
    if r is None:
        return None
    tps = fnum(r.get("tps"))
    if tps is None and "best_gbps" in r:  # memcpy: MB/s only
        return {"mb_per_s": fnum(r["best_gbps"]) * 1e3}
    return {"msgs_per_s": tps, "mb_per_s": fnum(r.get("mbps")), "p50_us": fnum(r.get("p50_us")),
            "p99_us": fnum(r.get("p99_us")), "p999_us": fnum(r.get("p999_us")),
            "max_us": fnum(r.get("max_us")), "rss_kb": fnum(r.get("rss_kb")),
            "cpu_us_per_msg": fnum(r.get("cpu_us_per_msg"))}


def cmd_row(args):
    if len(args) not in (8, 9):
        print(__doc__, file=sys.stderr)
        return 2
    exp, system, dur, size, conc, topics, kind, path = args[:8]
    note = args[8] if len(args) == 9 else ""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    size_n = int(size) if size.isdigit() else 0
    parsers = {"fio": lambda t, s: parse_fio(t, "write"), "fio_read": lambda t, s: parse_fio(t, "read"),
               "stele": parse_stele, "redis": parse_redis, "dbbench": parse_dbbench,
               "result": parse_result}
    if kind not in parsers:
        print(f"compare_report: unknown KIND {kind}", file=sys.stderr)
        return 2
    r = parsers[kind](text, size_n)
    if r is None:
        print(f"compare_report: no result in {path} ({kind})", file=sys.stderr)
        return 1
    if r.get("fails") not in (None, "0"):
        note = (note + f" fails={r['fails']}").strip()
    row = {"exp": exp, "system": system, "durability": dur, "size": size, "conc": conc,
           "topics": topics, "note": note}
    for c in COLUMNS[6:-1]:
        v = r.get(c)
        row[c] = "" if v is None else f"{v:.6g}"
    w = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    w.writerow(row)
    return 0


# ---- report ---------------------------------------------------------------------------------

def is_stele(r):
    return r["system"].startswith("stele")


def xval(r, exp):
    return {"sizes": "size", "producers": "conc", "topics": "topics"}.get(exp)


def num(r, c):
    v = r.get(c, "")
    return float(v) if v not in ("", None) else None


def add_ratios(rows):
    disk = {r["system"]: r for r in rows if r["exp"] == "disk"}

    def limit(name, col):
        r = disk.get(name)
        return num(r, col) if r else None

    sync_ops = limit("fio write+fdatasync 4k", "msgs_per_s")
    seq_mb = limit("fio seq write 1M buffered", "mb_per_s")
    read_mb = limit("fio seq read 1M cold", "mb_per_s")
    for r in rows:
        r["vs_disk"] = ""
        r["vs_best_peer"] = ""
        r["best_peer"] = ""
        tps, mb = num(r, "msgs_per_s"), num(r, "mb_per_s")
        if r["exp"] == "disk":
            continue
        if r["durability"] == "durable" and sync_ops and tps:
            r["vs_disk"] = f"{tps / sync_ops:.2f}"
        elif r["durability"] == "periodic" and seq_mb and mb:
            r["vs_disk"] = f"{mb / seq_mb:.2f}"
        elif r["durability"] == "read" and read_mb and mb:
            r["vs_disk"] = f"{mb / read_mb:.2f}"
        x = xval(r, r["exp"])
        peers = [p for p in rows if p["exp"] == r["exp"] and not is_stele(p)
                 and not p["system"].startswith("C loop")
                 and p["durability"] == r["durability"] and num(p, "msgs_per_s")
                 and (x is None or p[x] == r[x])]
        if peers and tps:
            best = max(peers, key=lambda p: num(p, "msgs_per_s"))
            r["best_peer"] = best["system"] + ("" if x else f" (c={best['conc']})")
            r["vs_best_peer"] = f"{tps / num(best, 'msgs_per_s'):.2f}"


def fmt(v, digits=3):
    if v in ("", None):
        return ""
    f = float(v)
    if abs(f) >= 1000:
        return f"{f:,.0f}"
    return f"{f:.{digits}g}"


def table(rows, cols):
    heads = {"msgs_per_s": "msgs/s", "mb_per_s": "MB/s", "p50_us": "p50 µs", "p99_us": "p99 µs",
             "p999_us": "p99.9 µs", "max_us": "max µs", "cpu_us_per_msg": "CPU µs/msg",
             "rss_kb": "RSS KiB", "vs_disk": "× disk", "vs_best_peer": "× best peer",
             "best_peer": "best peer", "conc": "conc.", "size": "size B"}
    out = ["| " + " | ".join(heads.get(c, c) for c in cols) + " |",
           "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            if c in ("system", "note", "best_peer", "durability", "exp"):
                cells.append(str(v))
            elif c in ("vs_disk", "vs_best_peer"):
                cells.append(f"{v}×" if v else "")
            else:
                cells.append(fmt(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def plots(rows, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("compare_report: matplotlib missing: no plots (apt-get install python3-matplotlib)",
              file=sys.stderr)
        return []
    made = []
    # Key plot: 1 KiB messages/s, durable and periodic, Stele against its peers and the disk.
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, dur in zip(axes, ("durable", "periodic")):
        rs = [r for r in rows if r["exp"] == "headline" and r["durability"] == dur
              and num(r, "msgs_per_s")]
        rs.sort(key=lambda r: num(r, "msgs_per_s"))
        names = [f"{r['system']} c={r['conc']}" for r in rs]
        vals = [num(r, "msgs_per_s") for r in rs]
        colors = ["tab:red" if is_stele(r) else ("tab:gray" if r["system"].startswith("C ")
                                                  else "tab:blue") for r in rs]
        ax.barh(names, vals, color=colors)
        ax.set_xscale("log")
        ax.set_xlabel("1 KiB messages/s (log)")
        ax.set_title(f"{dur}: Stele (red), peers (blue), plain C loop (gray)")
        ax.tick_params(axis="y", labelsize=8)
        disk = [r for r in rows if r["exp"] == "disk"]
        ref = None
        if dur == "durable":
            ref = next((num(r, "msgs_per_s") for r in disk if r["system"] == "fio write+fdatasync 4k"), None)
            label = "fio 1 writer write+fdatasync"
        else:
            mb = next((num(r, "mb_per_s") for r in disk if r["system"] == "fio seq write 1M buffered"), None)
            ref = mb * 1e6 / 1024 if mb else None
            label = "fio seq buffered write ÷ 1 KiB"
        if ref:
            ax.axvline(ref, color="k", linestyle="--", linewidth=1)
            ax.text(ref, len(rs) - 0.5, " " + label, fontsize=7, va="top")
    fig.tight_layout()
    path = os.path.join(outdir, "headline.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made.append(path)
    for exp, x, y, xlabel, ylabel in (
            ("producers", "conc", "msgs_per_s", "concurrent producers (connections / clients / in flight)", "1 KiB messages/s"),
            ("sizes", "size", "mb_per_s", "message size (bytes)", "MB/s"),
            ("topics", "topics", "msgs_per_s", "topics", "1 KiB messages/s")):
        rs = [r for r in rows if r["exp"] == exp and num(r, y)]
        if not rs:
            continue
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        for (system, dur) in sorted({(r["system"], r["durability"]) for r in rs}):
            pts = sorted(((num(r, x), num(r, y)) for r in rs
                          if r["system"] == system and r["durability"] == dur))
            style = "-o" if system.startswith("stele") else "--s"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"{system} ({dur})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel + " (log)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title(f"sweep: {exp}")
        fig.tight_layout()
        path = os.path.join(outdir, f"{exp}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    return made


def find(rows, exp, system, dur, conc=None):
    for r in rows:
        if r["exp"] == exp and r["system"] == system and r["durability"] == dur and (
                conc is None or r["conc"] == str(conc)):
            return r
    return None


def targets(rows):
    """The issue's targets, each with the figures it compares and met / missed."""
    out = ["| target | measured | result |", "|---|---|---|"]

    def line(what, a, b, factor, label_a, label_b, higher=True):
        if a is None or b is None:
            out.append(f"| {what} | not measured | |")
            return
        ratio = a / b if b else float("inf")
        ok = ratio >= factor if higher else a < b
        out.append(f"| {what} | {label_a} {fmt(a)} / {label_b} {fmt(b)} = {ratio:.2f}× | "
                   f"{'met' if ok else 'missed'} |")

    def val(r, c):
        return num(r, c) if r else None

    fio_seq = find(rows, "disk", "fio seq write 1M buffered", "periodic")
    fio_sync = find(rows, "disk", "fio write+fdatasync 4k", "durable")
    emb_async = find(rows, "headline", "stele embedded", "periodic", 1)
    emb_sync = find(rows, "headline", "stele embedded", "durable", 64)
    emb_cb = find(rows, "headline", "stele embedded AppendAsync", "durable", 64)
    g64 = find(rows, "headline", "C loop fdatasync/64 rec", "durable")
    line("embedded 1 KiB async append ≥ 0.8× fio buffered write MB/s", val(emb_async, "mb_per_s"),
         val(fio_seq, "mb_per_s"), 0.8, "MB/s", "fio")
    p99 = val(emb_async, "p99_us")
    out.append(f"| embedded async append p99 < 10 µs | {fmt(p99) if p99 is not None else '?'} µs | "
               f"{'met' if p99 is not None and p99 < 10 else 'missed'} |")
    line("embedded sync append, 64 appenders ≥ 20× fio one-writer fdatasync ops/s",
         val(emb_sync, "msgs_per_s"), val(fio_sync, "msgs_per_s"), 20, "msgs/s", "fio ops/s")
    line("embedded sync append, 64 appenders ≥ 1× C loop G=64", val(emb_sync, "msgs_per_s"),
         val(g64, "msgs_per_s"), 1, "msgs/s", "C loop")
    line("same, 64 in flight through AppendAsync ≥ 20× fio fdatasync ops/s",
         val(emb_cb, "msgs_per_s"), val(fio_sync, "msgs_per_s"), 20, "msgs/s", "fio ops/s")
    line("same, 64 in flight through AppendAsync ≥ 1× C loop G=64", val(emb_cb, "msgs_per_s"),
         val(g64, "msgs_per_s"), 1, "msgs/s", "C loop")
    brk_async = find(rows, "headline", "stele broker", "periodic")
    brk_sync = find(rows, "headline", "stele broker", "durable")
    line(f"broker async ≥ 2× Redis everysec (c={brk_async['conc'] if brk_async else '?'})",
         val(brk_async, "msgs_per_s"), val(find(rows, "headline", "redis streams", "periodic"), "msgs_per_s"),
         2, "msgs/s", "Redis")
    line("broker sync ≥ 2× Redis always", val(brk_sync, "msgs_per_s"),
         val(find(rows, "headline", "redis streams", "durable"), "msgs_per_s"), 2, "msgs/s", "Redis")
    line("broker sync ≥ 3× NATS JetStream publish with acks", val(brk_sync, "msgs_per_s"),
         val(find(rows, "headline", "nats jetstream", "periodic"), "msgs_per_s"), 3, "msgs/s", "NATS")
    st = find(rows, "startup", "stele broker", "periodic")
    rss = val(st, "rss_kb")
    out.append(f"| idle broker RSS < 50 MiB | {fmt(rss / 1024) if rss else '?'} MiB | "
               f"{'met' if rss and rss < 50 * 1024 else 'missed'} |")
    ms = val(st, "p50_us")
    out.append(f"| cold start to first accepted send < 200 ms | {fmt(ms / 1000) if ms else '?'} ms "
               f"(median of 3) | {'met' if ms and ms < 200e3 else 'missed'} |")
    return "\n".join(out)


def cmd_report(args):
    notes, title = [], "Stele vs. peers vs. the disk"
    pos = []
    i = 0
    while i < len(args):
        if args[i] == "--note" and i + 1 < len(args):
            notes.append(args[i + 1])
            i += 2
        elif args[i] == "--title" and i + 1 < len(args):
            title = args[i + 1]
            i += 2
        else:
            pos.append(args[i])
            i += 1
    if len(pos) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, outdir = pos
    with open(src, encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("exp") and r["exp"] != "exp"]
    if not rows:
        print(f"compare_report: {src} has no rows", file=sys.stderr)
        return 1
    os.makedirs(outdir, exist_ok=True)
    add_ratios(rows)
    cols = COLUMNS[1:-1] + ["vs_disk", "best_peer", "vs_best_peer", "note"]
    exps = []
    for r in rows:
        if r["exp"] not in exps:
            exps.append(r["exp"])
    for exp in exps:
        with open(os.path.join(outdir, f"{exp}.csv"), "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            w.writerows(r for r in rows if r["exp"] == exp)
    made = plots(rows, outdir)
    md = [f"# {title}", ""] + [f"- {n}" for n in notes] + [""]
    shown = {"disk": ["system", "size", "conc", "msgs_per_s", "mb_per_s", "p50_us", "p99_us", "max_us", "note"],
             "startup": ["system", "msgs_per_s", "p50_us", "max_us", "rss_kb", "note"]}
    default = ["system", "durability", "size", "conc", "topics", "msgs_per_s", "mb_per_s", "p50_us",
               "p99_us", "p999_us", "max_us", "cpu_us_per_msg", "vs_disk", "best_peer",
               "vs_best_peer", "note"]
    md += ["## Targets", "", targets(rows), ""]
    for exp in exps:
        md += [f"## {exp}", "", table([r for r in rows if r["exp"] == exp], shown.get(exp, default)), ""]
    md += ["Plots: " + ", ".join(f"[{os.path.basename(p)}]({os.path.basename(p)})" for p in made), ""]
    text = "\n".join(md)
    with open(os.path.join(outdir, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    return 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "row":
        return cmd_row(sys.argv[2:])
    if len(sys.argv) >= 2 and sys.argv[1] == "report":
        return cmd_report(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
