"""Tests of the stele Python package (run by ctest as Python.stele, or: PYTHONPATH=build/rel/bindings/python
python3 -m pytest bindings/python/tests)."""
import gc
import threading
import time

import pytest

import stele

SMALL = dict(mappedFileSizeCommitLog=4 << 20, mappedFileSizeConsumeQueue=60000,
             maxHashSlotNum=1000, maxIndexNum=4000)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def store(path):
    with stele.Store(path, **SMALL) as s:
        yield s


def wait_readable(s, topic, queue, n):
    assert s.wait(topic, queue, n - 1, 5.0)


def test_versions():
    assert stele.ABI_VERSION == 1
    assert stele.VERSION.count(".") == 2


def test_put_get_round_trip(store):
    r = store.put("Orders", b"hello", tags="new", keys="o-1 o-2", properties={"origin": "py"})
    assert r.put_status == "PUT_OK" and r.queue_offset == 0 and len(r.msg_id) == 32
    store.put("Orders", bytearray(b"world"), tags="old")
    store.put("Orders", memoryview(b"xx!yy")[1:4])
    wait_readable(store, "Orders", 0, 3)
    got = store.get("Orders", 0, 0)
    assert got.status == "FOUND" and got.next_offset == 3
    assert (got.min_offset, got.max_offset) == (0, 3)
    m = got.messages[0]
    assert isinstance(m.body, memoryview) and m.body.readonly
    assert bytes(m.body) == b"hello" and len(m) == 5
    assert (m.topic, m.queue_id, m.queue_offset, m.tags, m.keys) == ("Orders", 0, 0, "new", "o-1 o-2")
    assert m.properties["origin"] == "py" and m.msg_id == r.msg_id
    assert m.store_timestamp >= m.born_timestamp > 0
    assert bytes(got.messages[2].body) == b"x!y" and got.messages[2].tags is None
    # Tag filter.
    assert [bytes(x.body) for x in store.get("Orders", 0, 0, tags="old || none").messages] == [b"world"]
    assert store.get("Orders", 0, 3).status == "OFFSET_OVERFLOW_ONE"
    assert store.get("Nope", 0, 0).status == "NO_MATCHED_LOGIC_QUEUE"
    assert (store.min_offset("Orders"), store.max_offset("Orders", 0)) == (0, 3)
    assert store.next_queue_offset("Orders") == 3 and store.next_queue_offset("Nope", 1) == 0


def test_body_outlives_result_and_store(path):
    s = stele.Store(path, **SMALL)
    s.put("T", b"keep me")
    wait_readable(s, "T", 0, 1)
    body = s.get("T").messages[0].body
    s.close()
    del s
    gc.collect()
    assert bytes(body) == b"keep me"  # the memoryview pins the record


def test_put_batch(store):
    rs = store.put_batch("B", [b"a" * 1024] * 100, queue=2, tags="t")
    assert [r.queue_offset for r in rs] == list(range(100))
    assert store.put_batch("B", [b"b"] * 10, queue=2, results=False) == 10
    wait_readable(store, "B", 2, 110)
    assert store.get("B", 2, 100, max_messages=100).next_offset == 110
    with pytest.raises(stele.InvalidArgument):
        store.put_batch("B", [b"x"] * 5000)
    with pytest.raises(TypeError):
        store.put_batch("B", [b"x", 42])


def test_put_async(store):
    done = []
    ev = threading.Event()

    def cb(result, error):
        done.append((result, error))
        if len(done) == 51:
            ev.set()

    for _ in range(50):
        store.put_async("A", b"async", cb, tags="x")
    store.put_async("", b"bad topic", cb)
    assert ev.wait(10)
    ok = [r for r, e in done if e is None]
    errors = [e for r, e in done if e is not None]
    assert sorted(r.queue_offset for r in ok) == list(range(50))
    assert len(errors) == 1 and isinstance(errors[0], stele.MessageIllegal)
    assert errors[0].status == "MESSAGE_ILLEGAL"


def test_consume_iterator_and_group(store):
    for i in range(10):
        store.put("C", str(i).encode(), tags="even" if i % 2 == 0 else "odd")
    got = [bytes(m.body) for m in store.consume("C", queue=0, from_offset=0, timeout=0.2)]
    assert got == [str(i).encode() for i in range(10)]
    evens = [m.queue_offset for m in store.consume("C", from_offset=0, tags="even", timeout=0.2)]
    assert evens == [0, 2, 4, 6, 8]
    # A group resumes after what it processed.
    for m in store.consume("C", group="G1", timeout=0.2, batch=3):
        if m.queue_offset == 4:
            break
    assert store.committed_offset("G1", "C") == 4  # message 4 was not finished
    rest = [m.queue_offset for m in store.consume("C", group="G1", timeout=0.2)]
    assert rest == list(range(4, 10))
    assert store.committed_offset("G1", "C") == 10


def test_consume_waits_for_new_messages(store):
    def produce():
        time.sleep(0.2)
        store.put("W", b"late")

    t = threading.Thread(target=produce)
    t.start()
    start = time.monotonic()
    got = [bytes(m.body) for m in store.consume("W", from_offset=0, timeout=0.6)]
    t.join()
    assert got == [b"late"]
    assert time.monotonic() - start >= 0.6  # it waited for more, then gave up


def test_wait_releases_the_gil(store):
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    assert store.wait("Idle", 0, 0, 0.3) is False
    stop.set()
    t.join()
    assert len(ticks) >= 5  # ~30 when the GIL is free; 1 if wait() held it


def test_queries(store):
    t0 = int(time.time() * 1000)
    r1 = store.put("Q", b"one", keys="k1 shared")
    time.sleep(0.02)
    t1 = int(time.time() * 1000)
    r2 = store.put("Q", b"two", keys="k2 shared")
    wait_readable(store, "Q", 0, 2)
    assert [bytes(m.body) for m in store.query_key("Q", "shared")] == [b"two", b"one"]
    assert store.query_key("Q", "none") == []
    assert bytes(store.query_msg_id(r1.msg_id).body) == b"one"
    assert store.query_msg_id(r2.msg_id).queue_offset == 1
    with pytest.raises(stele.NotFound):
        store.query_msg_id("garbage")
    assert store.search_offset("Q", 0, t0 - 1000) == 0
    assert store.search_offset("Q", 0, t1) == 1
    with pytest.raises(stele.NotFound):
        store.search_offset("NoSuch", 0, t0)


def test_offsets_persist(path):
    with stele.Store(path, **SMALL) as s:
        assert s.committed_offset("G", "T", 0) is None
        s.commit_offset("G", "T", 0, 5)
        s.commit_offset("G", "T", 1, 9)
        s.persist_offsets()
        s.commit_offset("G", "T", 0, 6)
    assert (path / "config" / "consumerOffset.json").exists()
    with stele.Store(path, **SMALL) as s:
        assert s.committed_offset("G", "T", 0) == 6
        assert s.committed_offset("G", "T", 1) == 9
        with pytest.raises(stele.InvalidArgument):
            s.commit_offset("bad group!", "T", 0, 1)


def test_errors(path, store):
    with pytest.raises(stele.MessageIllegal) as e:
        store.put("", b"x")
    assert e.value.status == "MESSAGE_ILLEGAL" and e.value.code == -22
    with pytest.raises(stele.MessageIllegal):
        store.put("T", b"x" * (5 << 20))
    with pytest.raises(stele.InvalidArgument):
        store.put("T", b"x", queue=-1)
    with pytest.raises(stele.InvalidArgument, match="noSuchOption"):
        stele.Store(path.parent / "other", noSuchOption=1)
    with pytest.raises(stele.InvalidArgument, match="flushDiskType"):
        stele.Store(path.parent / "other", flushDiskType="SOMETIMES")
    with pytest.raises(stele.ServiceNotAvailable):
        stele.Store(path, **SMALL)  # open already
    with pytest.raises(TypeError):
        store.put("T", "not bytes")


def test_closed_store(path):
    s = stele.Store(path, flushDiskType="SYNC_FLUSH", **SMALL)
    s.put("T", b"x")
    s.close()
    s.close()  # idempotent
    for call in (lambda: s.put("T", b"y"), lambda: s.get("T"), lambda: s.max_offset("T"),
                 lambda: s.flush(), lambda: s.wait("T", 0, 0, 0.01),
                 lambda: s.commit_offset("G", "T", 0, 1), lambda: s.query_key("T", "k"),
                 lambda: list(s.consume("T", timeout=0))):
        with pytest.raises(stele.StoreClosed):
            call()
    with stele.Store(path, **SMALL) as s2:  # closed: it can be opened again, and kept the message
        assert s2.max_offset("T") == 1


def test_threads_share_a_store(store):
    def producer(q):
        for i in range(200):
            store.put("MT", b"%d" % i, queue=q)

    ts = [threading.Thread(target=producer, args=(q,)) for q in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for q in range(4):
        got = [int(bytes(m.body)) for m in store.consume("MT", queue=q, from_offset=0, timeout=0.2)]
        assert got == list(range(200))
