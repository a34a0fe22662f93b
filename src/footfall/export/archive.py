"""A zip of gzipped JSON-lines files, produced while it is sent (no seeking, no temporary files).

`zipfile` writes to a non-seekable stream by putting each entry's sizes and CRC in a data descriptor
after its data, so the archive can go out entry by entry. Entries are stored, not deflated again: their
content is gzip already, which is what Amplitude's export consumers unpack.
"""

from __future__ import annotations

import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence

GZIP_LEVEL = 6
# An entry is closed at this many compressed bytes whatever its line count, so it stays far below
# the 2 GiB where zipfile would need zip64 entry headers (the archive itself may pass 4 GiB).
MAX_ENTRY_BYTES = 1 << 30

EntryName = Callable[[int, int], str]  # (hour as epoch seconds, partition) -> entry name
Lines = Sequence[bytes | memoryview]  # lines without their newline


class _Buffer:
    """The write-only stream zipfile writes into; drained after every step."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class _Entry:
    """One `<name>.json.gz` entry being written: lines go through gzip into the zip."""

    def __init__(self, archive: zipfile.ZipFile, name: str, hour: int, partition: int) -> None:
        info = zipfile.ZipInfo(name, date_time=time.gmtime(hour)[:6])
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        self.hour = hour
        self.partition = partition
        self.lines = 0
        self.size = 0
        self._file = archive.open(info, "w")
        self._gzip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: a gzip stream

    def write(self, lines: Lines) -> None:
        self._put(self._gzip.compress(b"\n".join(lines)))
        self._put(self._gzip.compress(b"\n"))  # not `+ b"\n"`: that would copy the lines once more
        self.lines += len(lines)

    def _put(self, data: bytes) -> None:
        if data:
            self._file.write(data)
            self.size += len(data)

    def close(self) -> None:
        self._put(self._gzip.flush())
        self._file.close()


def zip_stream(groups: Iterable[tuple[int, Lines]], name: EntryName, partition_lines: int) -> Iterator[bytes]:
    """The zip bytes of `groups`: (hour, lines) in ascending hour order, an hour possibly in several groups.

    Each hour's lines fill entries `name(hour, 0)`, `name(hour, 1)`, … of at most `partition_lines` lines;
    every entry is a gzip of the lines, each ending in a newline. Nothing is written for an hour without
    lines, and the archive holds file entries only (no directory entries).
    """
    buffer = _Buffer()
    archive = zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED)
    entry: _Entry | None = None
    for hour, lines in groups:
        start = 0
        while start < len(lines):
            if entry is None or entry.hour != hour or entry.lines >= partition_lines or entry.size >= MAX_ENTRY_BYTES:
                partition = entry.partition + 1 if entry is not None and entry.hour == hour else 0
                if entry is not None:
                    entry.close()
                entry = _Entry(archive, name(hour, partition), hour, partition)
            take = min(len(lines) - start, partition_lines - entry.lines)
            entry.write(lines[start : start + take])
            start += take
            if chunk := buffer.drain():
                yield chunk
    if entry is not None:
        entry.close()
    archive.close()
    yield buffer.drain()
