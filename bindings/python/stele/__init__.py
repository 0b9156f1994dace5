"""Stele: an embeddable, durable commit-log store in RocketMQ's format (Python binding).

    import stele
    with stele.Store("/tmp/orders", flushDiskType="SYNC_FLUSH") as store:
        store.put("Orders", b"order #1", tags="new", keys="o-1")
        for msg in store.consume("Orders", queue=0, from_offset=0, timeout=1.0):
            print(msg.queue_offset, bytes(msg.body))

Bodies are zero-copy: ``Message.body`` is a read-only ``memoryview`` into the store's mapped
records, valid for as long as it (or the Message) is referenced. Blocking calls release the GIL.
Errors raise a ``SteleError`` subclass named after RocketMQ's status (``MessageIllegal``,
``ServiceNotAvailable``, ...); ``err.status`` holds the status name itself.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Iterator, List, Mapping, NamedTuple, Optional, Union

from . import _stele
from ._stele import Message, PutResult

__all__ = [
    "Store", "Message", "PutResult", "GetResult", "SteleError", "InvalidArgument", "BadHandle",
    "StoreClosed", "NotFound", "OutOfRange", "DataLoss", "IOError_", "FailedPrecondition",
    "InternalError", "ServiceNotAvailable", "CreateMappedFileFailed", "MessageIllegal",
    "PropertiesSizeExceeded", "OsPageCacheBusy", "UnknownError", "ABI_VERSION", "VERSION",
]

ABI_VERSION: int = _stele.ABI_VERSION
VERSION: str = _stele.VERSION


class SteleError(Exception):
    """A failed call. ``code`` is the C API's STELE_E_* value, ``status`` its RocketMQ-style name."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.code = code
        self.status = status
        self.message = message


class InvalidArgument(SteleError, ValueError): pass
class BadHandle(SteleError): pass
class StoreClosed(SteleError): pass
class NotFound(SteleError, KeyError): pass
class OutOfRange(SteleError): pass
class DataLoss(SteleError): pass
class IOError_(SteleError, OSError): pass
class FailedPrecondition(SteleError): pass
class InternalError(SteleError): pass
class ServiceNotAvailable(SteleError): pass
class CreateMappedFileFailed(SteleError): pass
class MessageIllegal(SteleError, ValueError): pass
class PropertiesSizeExceeded(SteleError, ValueError): pass
class OsPageCacheBusy(SteleError): pass
class UnknownError(SteleError): pass


_stele._set_errors({
    -1: InvalidArgument, -2: BadHandle, -3: StoreClosed, -4: NotFound, -5: OutOfRange,
    -6: DataLoss, -7: IOError_, -8: FailedPrecondition, -9: InternalError,
    -20: ServiceNotAvailable, -21: CreateMappedFileFailed, -22: MessageIllegal,
    -23: PropertiesSizeExceeded, -24: OsPageCacheBusy, -25: UnknownError,
})

Body = Union[bytes, bytearray, memoryview]
OptionValue = Union[str, int, bool]
_WAIT_SLICE_MS = 1000  # a consume() wait wakes at least this often (so Ctrl-C is seen)


class GetResult(NamedTuple):
    """One read of a queue: RocketMQ's GetMessageStatus name, the next offset, the messages."""

    status: str
    next_offset: int
    min_offset: int
    max_offset: int
    messages: List[Message]


def _option_text(v: OptionValue) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class Store:
    """An open store. Thread-safe; use it as a context manager or call close().

    ``Store(path, **options)``: options are broker.conf / MessageStoreConfig names, e.g.
    ``flushDiskType="SYNC_FLUSH"``, ``mappedFileSizeCommitLog=16 << 20``. ``options=`` takes a
    mapping as well.
    """

    def __init__(self, path: Union[str, os.PathLike], options: Optional[Mapping[str, OptionValue]] = None,
                 **kwargs: OptionValue) -> None:
        opts = {"storePathRootDir": os.fspath(path)}
        for k, v in {**(options or {}), **kwargs}.items():
            opts[k] = _option_text(v)
        self._s = _stele.Store(list(opts.items()))

    # ---- lifecycle ----
    def close(self) -> None:
        """Flushes, persists consumer offsets and stops the store; later calls raise StoreClosed."""
        self._s.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- put ----
    def put(self, topic: str, body: Body, *, queue: int = 0, tags: Optional[str] = None,
            keys: Optional[str] = None, properties: Optional[Mapping[str, str]] = None) -> PutResult:
        """Appends one message; durable on return under SYNC_FLUSH."""
        return self._s.put(topic, body, queue, tags, keys,
                           dict(properties) if properties is not None else None)

    def put_batch(self, topic: str, bodies: List[Body], *, queue: int = 0,
                  tags: Optional[str] = None, keys: Optional[str] = None,
                  results: bool = True) -> Union[List[PutResult], int]:
        """Appends up to 4096 bodies to one queue atomically (all or none). With results=False
        returns only the count (faster)."""
        return self._s.put_batch(topic, bodies, queue, tags, keys, results)

    def put_async(self, topic: str, body: Body,
                  done: Callable[[Optional[PutResult], Optional[SteleError]], None], *,
                  queue: int = 0, tags: Optional[str] = None, keys: Optional[str] = None,
                  properties: Optional[Mapping[str, str]] = None) -> None:
        """Appends without waiting; ``done(result, error)`` runs on an engine thread once the put
        is acknowledged or failed. close() waits for outstanding callbacks."""
        self._s.put_async(topic, body, done, queue, tags, keys,
                          dict(properties) if properties is not None else None)

    def flush(self) -> None:
        """Makes everything appended so far durable."""
        self._s.flush()

    # ---- read ----
    def get(self, topic: str, queue: int = 0, offset: int = 0, *, max_messages: int = 32,
            tags: Optional[str] = None) -> GetResult:
        """Reads up to max_messages from a queue offset. ``tags``: "TagA || TagB" or None/"*"."""
        return GetResult(*self._s.get(topic, queue, offset, max_messages, tags))

    def consume(self, topic: str, queue: int = 0, from_offset: Optional[int] = None, *,
                tags: Optional[str] = None, batch: int = 32, timeout: Optional[float] = None,
                group: Optional[str] = None) -> Iterator[Message]:
        """Yields the queue's messages in order, waiting for new ones.

        from_offset: where to start; None = the group's committed offset (if ``group``), else the
        queue's min offset. timeout: seconds to wait for a new message before the iterator ends
        (None waits forever). group: when set, the offset after each message is committed once the
        loop asks for the next one (at-least-once; persisted by persist_offsets() and close()).
        """
        offset = from_offset
        if offset is None and group is not None:
            offset = self._s.committed_offset(group, topic, queue)
        if offset is None:
            offset = self._s.min_offset(topic, queue)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status, next_offset, _, _, msgs = self._s.get(topic, queue, offset, batch, tags)
            if msgs:
                for m in msgs:
                    yield m
                    if group is not None:
                        self._s.commit_offset(group, topic, queue, m.queue_offset + 1)
                offset = next_offset
                if timeout is not None:
                    deadline = time.monotonic() + timeout
                continue
            if status in ("NO_MATCHED_MESSAGE", "OFFSET_TOO_SMALL", "MESSAGE_WAS_REMOVING") \
                    and next_offset != offset:
                offset = next_offset  # skip filtered or deleted entries
                continue
            if status == "OFFSET_OVERFLOW_BADLY":
                offset = next_offset
            wait_ms = _WAIT_SLICE_MS
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait_ms = min(wait_ms, max(1, int(left * 1000)))
            self._s.wait(topic, queue, offset, wait_ms)

    def __iter__(self) -> Iterator[Message]:
        raise TypeError("iterate over store.consume(topic, queue=...)")

    def wait(self, topic: str, queue: int, offset: int, timeout: float) -> bool:
        """Blocks until the queue has a message at ``offset`` or ``timeout`` seconds pass."""
        return self._s.wait(topic, queue, offset, int(timeout * 1000))

    def query_key(self, topic: str, key: str, *, max: int = 32, begin_ms: int = 0,
                  end_ms: int = 2**63 - 1) -> List[Message]:
        """Messages whose KEYS (or UNIQ_KEY) hold ``key``, newest first."""
        return self._s.query_key(topic, key, max, begin_ms, end_ms)

    def query_msg_id(self, msg_id: str) -> Message:
        """The message named by an offset message id; raises NotFound."""
        return self._s.query_msg_id(msg_id)

    def search_offset(self, topic: str, queue: int, timestamp_ms: int) -> int:
        """The first queue offset stored at or after timestamp_ms (max offset if none)."""
        return self._s.search_offset(topic, queue, timestamp_ms)

    def min_offset(self, topic: str, queue: int = 0) -> int:
        return self._s.min_offset(topic, queue)

    def max_offset(self, topic: str, queue: int = 0) -> int:
        """One past the newest readable message (0 for an unknown queue)."""
        return self._s.max_offset(topic, queue)

    def next_queue_offset(self, topic: str, queue: int = 0) -> int:
        """The queue offset the next put will get (past every acknowledged put, readable or not)."""
        return self._s.next_queue_offset(topic, queue)

    # ---- consumer offsets (RocketMQ's config/consumerOffset.json) ----
    def commit_offset(self, group: str, topic: str, queue: int, offset: int) -> None:
        """Records ``offset`` (the next message to consume) in memory."""
        self._s.commit_offset(group, topic, queue, offset)

    def committed_offset(self, group: str, topic: str, queue: int = 0) -> Optional[int]:
        return self._s.committed_offset(group, topic, queue)

    def persist_offsets(self) -> None:
        """Writes committed offsets to disk crash-safely (close() does too)."""
        self._s.persist_offsets()
