#!/usr/bin/env python3
"""Python binding throughput as a ratio of the C++ embedded figure, measured in the same run.

    PYTHONPATH=build/rel/bindings/python python3 bench/bindings_bench.py \
        --cxx build/rel/bindings/stele_bindings_bench [--messages 200000] [--rounds 3]

Workload (both sides): N messages of 1 KiB appended to one queue in batches of 32 (ASYNC_FLUSH,
C++ Store::AppendBatch vs Python Store.put_batch), then all read back 32 per call (C++ Store::Get
vs Python Store.get, touching each body). Each round uses a fresh store; the best round counts.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import stele


def python_round(path, messages, body_size, batch, results):
    with stele.Store(path, mappedFileSizeCommitLog=256 << 20, maxHashSlotNum=100000,
                     maxIndexNum=400000) as s:
        bodies = [b"x" * body_size] * batch
        t0 = time.perf_counter()
        for _ in range(0, messages, batch):
            s.put_batch("BenchTopic", bodies, results=results)
        put_s = time.perf_counter() - t0
        s.wait("BenchTopic", 0, messages - 1, 60)
        t0 = time.perf_counter()
        off = read = nbytes = 0
        while read < messages:
            got = s.get("BenchTopic", 0, off, max_messages=32)
            for m in got.messages:
                nbytes += len(m.body)
            read += len(got.messages)
            off = got.next_offset
        get_s = time.perf_counter() - t0
    return messages / put_s, read / get_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cxx", required=True, help="path of stele_bindings_bench")
    ap.add_argument("--messages", type=int, default=200000)
    ap.add_argument("--body-size", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where to put the stores (default: TMPDIR)")
    a = ap.parse_args()
    best = {"cxx_put": 0, "cxx_get": 0, "py_put": 0, "py_put_nores": 0, "py_get": 0}
    for _ in range(a.rounds):
        d = tempfile.mkdtemp(prefix="stele_bind_bench.", dir=a.dir)
        try:
            out = subprocess.run([a.cxx, os.path.join(d, "cxx"), "--messages", str(a.messages),
                                  "--body-size", str(a.body_size), "--batch", str(a.batch)],
                                 check=True, capture_output=True, text=True).stdout
            c = json.loads(out.strip().splitlines()[-1])
            best["cxx_put"] = max(best["cxx_put"], c["put_msgs_per_s"])
            best["cxx_get"] = max(best["cxx_get"], c["get_msgs_per_s"])
            put, get = python_round(os.path.join(d, "py"), a.messages, a.body_size, a.batch, True)
            best["py_put"] = max(best["py_put"], put)
            best["py_get"] = max(best["py_get"], get)
            put, _ = python_round(os.path.join(d, "py2"), a.messages, a.body_size, a.batch, False)
            best["py_put_nores"] = max(best["py_put_nores"], put)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    print(f"{a.messages} msgs x {a.body_size} B, batches of {a.batch}, best of {a.rounds}")
    rows = [("put_batch (results)", best["py_put"], best["cxx_put"]),
            ("put_batch (results=False)", best["py_put_nores"], best["cxx_put"]),
            ("get (32/call)", best["py_get"], best["cxx_get"])]
    print(f"{'':28}{'Python msg/s':>14}{'C++ msg/s':>14}{'ratio':>8}")
    for name, py, cxx in rows:
        print(f"{name:28}{py:14,.0f}{cxx:14,.0f}{py / cxx:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
