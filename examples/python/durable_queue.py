#!/usr/bin/env python3
"""The durable-queue round trip of examples/durable_queue.cc, in Python (the stele package).

    durable_queue.py DATA_DIR [--messages N] [--topics T]

A producer thread appends N numbered messages to queue 0 of each of T topics (DurableQueue0, ...)
with SYNC_FLUSH; a consumer thread reads them and "processes" each by appending
"topic queue_id queue_offset seq" to DATA_DIR/consumed.log. Kill it at any moment and run it again:
it carries on, and consumed.log ends up with every message exactly once, in order. As in the C++
example the consumer's offset is its output (a line commits offset + 1; a batch of lines is one
write + fdatasync; a torn last line is cut off on restart), and the producer resumes from
next_queue_offset(): the commit log is its record of what was sent.
"""
import argparse
import os
import sys
import threading

import stele

BATCH = 64


def topic_name(t: int) -> str:
    return f"DurableQueue{t}"


def recover_log(path: str, topics: int) -> list:
    """Committed offsets from consumed.log; cuts a torn tail, refuses anything else that is wrong."""
    committed = [0] * topics
    with open(path, "ab+") as f:
        f.seek(0)
        data = f.read()
        good = 0
        lines = data.split(b"\n")
        for i, line in enumerate(lines[:-1]):  # lines[-1]: bytes after the last '\n' (torn)
            parts = line.split(b" ")
            ok = len(parts) == 4 and parts[0].startswith(b"DurableQueue") and parts[1] == b"0"
            try:
                t, qo, seq = int(parts[0][12:]), int(parts[2]), int(parts[3])
            except (ValueError, IndexError):
                ok = False
            if not ok:
                if any(l.startswith(b"DurableQueue") for l in lines[i + 1:-1]):
                    raise SystemExit(f"consumer: damaged line at byte {good} followed by valid ones")
                break
            while t >= len(committed):
                committed.append(0)
            if qo != committed[t] or seq != qo:
                raise SystemExit(f"consumer: {path} out of sequence at byte {good}")
            committed[t] = qo + 1
            good += len(line) + 1
        if good < len(data):
            print(f"consumer: cutting {len(data) - good} bytes of torn tail off {path}")
            f.truncate(good)
            os.fdatasync(f.fileno())
    return committed


def produce(store: stele.Store, topics: int, messages: int, stop: threading.Event) -> None:
    nxt = [store.next_queue_offset(topic_name(t)) for t in range(topics)]
    for t in range(topics):
        print(f"producer: {topic_name(t)} resumes at seq {nxt[t]}")
    while not stop.is_set():
        t = min(range(topics), key=lambda i: nxt[i])  # the topic furthest behind
        seq = nxt[t]
        if seq >= messages:
            return
        r = store.put(topic_name(t), str(seq).encode(), tags="even" if seq % 2 == 0 else "odd",
                      keys=f"order-{t}-{seq}")
        if r.put_status != "PUT_OK" or r.queue_offset != seq:
            raise RuntimeError(f"{topic_name(t)} seq {seq}: {r}")
        nxt[t] += 1


def consume(store: stele.Store, fd: int, committed: list, topics: int, messages: int,
            stop: threading.Event) -> None:
    while not stop.is_set():
        done, progressed = True, False
        for t in range(topics):
            if committed[t] >= messages:
                continue
            done = False
            got = store.get(topic_name(t), 0, committed[t], max_messages=BATCH)
            if got.status in ("OFFSET_TOO_SMALL", "MESSAGE_WAS_REMOVING"):
                raise RuntimeError(f"{topic_name(t)}: {got.status}")
            lines, nxt = [], committed[t]
            for m in got.messages:
                if nxt >= messages:
                    break
                if m.queue_offset != nxt or int(bytes(m.body)) != nxt:
                    raise RuntimeError(f"{topic_name(t)}: unexpected message at {nxt}")
                lines.append(f"{topic_name(t)} 0 {nxt} {nxt}\n")
                nxt += 1
            if not lines:
                continue
            os.write(fd, "".join(lines).encode())  # the effect and the offset, committed together
            os.fdatasync(fd)
            committed[t] = nxt
            progressed = True
        if done:
            return
        if not progressed:
            w = min(range(topics), key=lambda i: committed[i])
            store.wait(topic_name(w), 0, committed[w], 1.0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--topics", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    log_path = os.path.join(a.dir, "consumed.log")
    committed = recover_log(log_path, a.topics)
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    errors = []
    stop = threading.Event()

    def run(fn, *args):
        try:
            fn(*args)
        except Exception as e:  # either thread failing stops the other
            errors.append(e)
            stop.set()

    with stele.Store(os.path.join(a.dir, "store"), flushDiskType="SYNC_FLUSH",
                     mappedFileSizeCommitLog=16 << 20, maxHashSlotNum=100000,
                     maxIndexNum=400000) as store:
        for t in range(a.topics):
            print(f"consumer: {topic_name(t)} resumes at queue offset {committed[t]}")
        threads = [threading.Thread(target=run, args=(produce, store, a.topics, a.messages, stop)),
                   threading.Thread(target=run, args=(consume, store, fd, committed, a.topics,
                                                      a.messages, stop))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    os.close(fd)
    if errors:
        print(f"error: {errors[0]!r}", file=sys.stderr)
        return 1
    print(f"done: {a.messages} messages x {a.topics} topics produced and consumed exactly once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
