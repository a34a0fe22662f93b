"""Request bodies as SDKs send them: gzip (sniffed by magic bytes), lz64, base64, `data=` forms.

Every decoder caps its output at the endpoint's size limit, so a compression bomb is refused as too
large instead of filling memory.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from urllib.parse import parse_qs

import lzstring

GZIP_MAGIC = b"\x1f\x8b"


class BodyError(ValueError):
    """A body that cannot be decoded. `too_large` separates 413 from 400."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BodyError("invalid gzip body") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyError("decompressed body is too large", too_large=True)
    return out


def maybe_gunzip(data: bytes, limit: int, declared: bool = False) -> bytes:
    """Gunzip when declared (Content-Encoding, compression=gzip) or when the magic bytes say so."""
    if declared or data[:2] == GZIP_MAGIC:
        return gunzip(data, limit)
    return data


_BASE64 = re.compile(rb"^[A-Za-z0-9+/=_\-\s]+$")


def looks_base64(data: bytes) -> bool:
    stripped = data.strip()
    return bool(stripped) and stripped[:1] not in (b"{", b"[") and bool(_BASE64.match(stripped))


def b64decode(data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    raw = raw.strip().replace(b" ", b"+")  # '+' turned into ' ' by form decoding
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw, altchars=b"-_" if (b"-" in raw or b"_" in raw) else None)
    except (binascii.Error, ValueError) as exc:
        raise BodyError("invalid base64 body") from exc


def lz64decode(text: str, limit: int) -> bytes:
    try:
        out = lzstring.LZString().decompressFromBase64(text)
    except Exception as exc:  # the library raises assorted errors on garbage
        raise BodyError("invalid lz64 body") from exc
    if not out:
        raise BodyError("invalid lz64 body")
    data = out.encode("utf-8", "surrogatepass")
    if len(data) > limit:
        raise BodyError("decompressed body is too large", too_large=True)
    return data


def posthog_payload(
    body: bytes, content_type: str, compression: str, query_data: str | None, limit: int, gzip_header: bool
) -> bytes:
    """The JSON text inside a PostHog capture request, whatever wrapping the SDK chose."""
    compression = compression.lower()
    if query_data is not None and not body:
        text = query_data  # GET ?data=..., already URL-decoded
    elif "application/x-www-form-urlencoded" in content_type.lower() and body.lstrip()[:1] not in (b"{", b"["):
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        if "data" not in fields:
            raise BodyError("form body has no data field")
        text = fields["data"][0]
    else:
        data = maybe_gunzip(body, limit, declared=gzip_header or compression in ("gzip", "gzip-js"))
        if compression == "lz64":
            return lz64decode(data.decode("latin-1"), limit)
        if compression == "base64" or looks_base64(data):
            return maybe_gunzip(b64decode(data), limit)
        return data
    if compression == "lz64":
        return lz64decode(text, limit)
    data = text.encode("utf-8", "surrogatepass")
    if compression == "base64" or looks_base64(data):
        data = b64decode(data)
    return maybe_gunzip(data, limit)
