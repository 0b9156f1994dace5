#!/usr/bin/env python3
"""SQLite in WAL mode as a log, for bench/compare: inserts SIZE-byte blobs into one table for
SECONDS, one transaction per insert (each commit is a WAL append; with synchronous=FULL each
commit fsyncs the WAL, with NORMAL only checkpoints do). One writer, Python's sqlite3 module.

usage: sqlite_wal.py DB FULL|NORMAL SECONDS SIZE

Prints "RESULT key=value ..." with rows per second and commit latency percentiles."""
import os
import sqlite3
import sys
import time


def main():
    if len(sys.argv) != 5 or sys.argv[2] not in ("FULL", "NORMAL"):
        print(__doc__, file=sys.stderr)
        return 2
    path, sync, seconds, size = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={sync}")
    db.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, body BLOB)")
    blob = os.urandom(size)
    lat = []
    t0 = time.perf_counter()
    end = t0 + seconds
    now = t0
    while now < end:
        s = now
        db.execute("BEGIN")
        db.execute("INSERT INTO log (body) VALUES (?)", (blob,))
        db.execute("COMMIT")
        now = time.perf_counter()
        lat.append((now - s) * 1e6)
    secs = now - t0
    db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, max(0, int(p / 100 * len(lat) + 0.999999) - 1))]

    n = len(lat)
    print(f"RESULT sync={sync} msgs={n} tps={n / secs:.0f} mbps={n * size / secs / 1e6:.1f} "
          f"p50_us={pct(50):.0f} p99_us={pct(99):.0f} p999_us={pct(99.9):.0f} max_us={pct(100):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
