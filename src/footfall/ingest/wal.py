"""The write-ahead log: an acknowledged batch is on disk, fsynced, before the client hears 200.

Segments are files named by the global byte position of their first record. A record is a 4-byte
length, a 4-byte CRC32 and the payload. A position is the global byte offset of a record, so positions
only grow and name a record forever, which makes the flusher's replay exact.

Group commit: appenders queue their payloads; one writer thread writes everything queued, fsyncs once
and wakes all of them. Under load many requests share one fsync.

An appender may hand over the object its payload encodes; the log keeps it (bounded) until the record
is trimmed, so the flusher reads it back without parsing what the request handler just serialised.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HEADER = struct.Struct("<II")
_SUFFIX = ".wal"


@dataclass(frozen=True)
class Record:
    position: int
    end: int
    payload: bytes
    decoded: Any = None  # the appender's object when still held in memory (equal to parsing `payload`)


def _frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _valid_length(data: bytes) -> int:
    """Length of the longest prefix of whole, intact records (a torn tail is cut off)."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        if start + length > len(data) or zlib.crc32(data[start : start + length]) != crc:
            break
        offset = start + length
    return offset


class WriteAheadLog:
    def __init__(self, directory: Path, segment_bytes: int = 64 << 20, decoded_bytes: int = 32 << 20) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._cond = threading.Condition()
        self._pending: list[tuple[bytes, Callable[[int | BaseException], None], Any]] = []
        # position -> decoded object of unflushed records, up to `decoded_bytes` of their payloads.
        self._decoded: dict[int, tuple[Any, int]] = {}
        self._decoded_size = 0
        self._decoded_limit = decoded_bytes
        self._decoded_lock = threading.Lock()
        self._closing = False
        self._listeners: list[Callable[[], None]] = []
        self._recover()
        self._writer = threading.Thread(target=self._write_loop, name="wal-writer", daemon=True)
        self._writer.start()

    # -- opening ------------------------------------------------------------------------------------
    def _segments(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob(f"*{_SUFFIX}"):
            try:
                found.append((int(path.stem), path))
            except ValueError:
                continue
        return sorted(found)

    def _recover(self) -> None:
        segments = self._segments()
        if not segments:
            start = 0
            path = self.directory / f"{start:020d}{_SUFFIX}"
            path.touch()
            _fsync_dir(self.directory)
            segments = [(start, path)]
        start, path = segments[-1]
        data = path.read_bytes()
        valid = _valid_length(data)
        if valid != len(data):  # a write torn by a crash was never acknowledged: drop it
            with open(path, "r+b") as f:
                f.truncate(valid)
                os.fsync(f.fileno())
        self._segment_start = start
        self._file = open(path, "ab")  # noqa: SIM115 - held open for the log's lifetime
        self._end = start + valid

    # -- writing ------------------------------------------------------------------------------------
    @property
    def end(self) -> int:
        """Position just past the last durable record."""
        return self._end

    def on_append(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from the writer thread) after each durable write."""
        self._listeners.append(listener)

    def _enqueue(self, payload: bytes, done: Callable[[int | BaseException], None], decoded: Any = None) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("the write-ahead log is closed")
            self._pending.append((payload, done, decoded))
            self._cond.notify()

    async def append(self, payload: bytes, decoded: Any = None) -> int:
        """Append one record; returns its position once it is fsynced.

        `decoded`, if given, must equal `orjson.loads(payload)` and is not mutated afterwards by anyone.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()

        def done(result: int | BaseException) -> None:
            loop.call_soon_threadsafe(_settle, future, result)

        self._enqueue(payload, done, decoded)
        return await future

    def append_sync(self, payload: bytes, decoded: Any = None) -> int:
        """Blocking append, for callers outside the event loop (`decoded` as for `append`)."""
        box: list[int | BaseException] = []
        ready = threading.Event()

        def done(result: int | BaseException) -> None:
            box.append(result)
            ready.set()

        self._enqueue(payload, done, decoded)
        ready.wait()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closing:
                    return
            try:
                positions = self._write(batch)
            except OSError as exc:
                for _, done, _ in batch:
                    done(exc)
                continue
            for (_, done, _), position in zip(batch, positions, strict=True):
                done(position)
            for listener in self._listeners:
                listener()

    def _write(self, batch: list[tuple[bytes, Callable[[int | BaseException], None], Any]]) -> list[int]:
        if self._end - self._segment_start >= self.segment_bytes:
            self._rotate()
        positions, frames, position = [], [], self._end
        for payload, _, _ in batch:
            frame = _frame(payload)
            positions.append(position)
            frames.append(frame)
            position += len(frame)
        self._file.write(b"".join(frames))
        self._file.flush()
        os.fsync(self._file.fileno())
        with self._decoded_lock:  # before `end` moves, so the flusher finds them
            for (payload, _, decoded), at in zip(batch, positions, strict=True):
                if decoded is not None and self._decoded_size + len(payload) <= self._decoded_limit:
                    self._decoded[at] = (decoded, len(payload))
                    self._decoded_size += len(payload)
        self._end = position
        return positions

    def _rotate(self) -> None:
        self._file.close()
        self._segment_start = self._end
        self._file = open(self.directory / f"{self._end:020d}{_SUFFIX}", "ab")  # noqa: SIM115
        _fsync_dir(self.directory)

    # -- reading and trimming -----------------------------------------------------------------------
    def read(self, start: int, max_bytes: int = 16 << 20, stop: int | None = None) -> list[Record]:
        """Durable records from `start` on, up to about `max_bytes` of payload or up to `stop`."""
        end = self._end if stop is None else min(stop, self._end)
        records: list[Record] = []
        total = 0
        segments = self._segments()
        for index, (seg_start, path) in enumerate(segments):
            if seg_start >= end or total >= max_bytes:
                break
            seg_end = min(segments[index + 1][0], end) if index + 1 < len(segments) else end
            if seg_end <= start:
                continue
            with open(path, "rb") as f:
                offset = max(start, seg_start) - seg_start
                f.seek(offset)
                data = f.read(seg_end - seg_start - offset)
            pos = 0
            while pos + _HEADER.size <= len(data) and total < max_bytes:
                length, crc = _HEADER.unpack_from(data, pos)
                body = data[pos + _HEADER.size : pos + _HEADER.size + length]
                if len(body) != length or zlib.crc32(body) != crc:
                    raise RuntimeError(f"write-ahead log corrupt at position {seg_start + offset + pos}")
                begin = seg_start + offset + pos
                held = self._decoded.get(begin)
                records.append(Record(begin, begin + _HEADER.size + length, body, held[0] if held else None))
                total += length
                pos += _HEADER.size + length
        return records

    def trim(self, before: int) -> None:
        """Delete whole segments that end at or before `before` (they are flushed), and held objects."""
        with self._decoded_lock:
            for position in [p for p in self._decoded if p < before]:
                self._decoded_size -= self._decoded.pop(position)[1]
        segments = self._segments()
        for (_, path), (next_start, _) in itertools.pairwise(segments):
            if next_start <= before:
                path.unlink(missing_ok=True)

    def size_bytes(self) -> int:
        return sum(path.stat().st_size for _, path in self._segments())

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._writer.join()
        self._file.close()


def _settle(future: asyncio.Future[int], result: int | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
