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
    if not inflater.eof:  # a cut-off stream would otherwise pass as a (shorter) body
        raise BodyError("truncated gzip body")
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


_LZ_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_LZ_VALUES = {c: i for i, c in enumerate(_LZ_ALPHABET)}


def lz64decode(text: str, limit: int) -> bytes:
    """lz-string's `decompressFromBase64` (posthog-js `compression=lz64`), capped at `limit`.

    lz-string output can grow quadratically with its input, so the cap is checked while decoding: a small
    bomb is refused as too large before it fills memory. The output is JavaScript's UTF-16 text; surrogate
    pairs are joined before it becomes UTF-8.
    """
    try:
        codes = [_LZ_VALUES[c] for c in text.strip().replace(" ", "+")]  # '+' became ' ' in form decoding
    except KeyError as exc:
        raise BodyError("invalid lz64 body") from exc
    out = _lz_decompress(codes, limit)
    if not out:
        raise BodyError("invalid lz64 body")
    data = out.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode("utf-8")
    if len(data) > limit:
        raise BodyError("decompressed body is too large", too_large=True)
    return data


def _lz_decompress(codes: list[int], limit: int) -> str:
    """The lz-string decoder over 6-bit values (same steps as the reference JavaScript)."""
    length = len(codes)
    if not length:
        return ""
    val, position, index = codes[0], 32, 1

    def read(bits: int) -> int:
        nonlocal val, position, index
        value = 0
        for power in range(bits):
            if val & position:
                value |= 1 << power
            position >>= 1
            if position == 0:
                position = 32
                val = codes[index] if index < length else 0  # JavaScript reads NaN as 0
                index += 1
        return value

    kind = read(2)
    if kind == 2:
        return ""
    if kind == 3:
        raise BodyError("invalid lz64 body")
    first = chr(read(8 if kind == 0 else 16))
    dictionary = ["", "", "", first]  # codes 0-2 are markers, not entries
    enlarge_in, num_bits = 4, 3
    w, result, total = first, [first], 1
    while True:
        if index > length:
            raise BodyError("invalid lz64 body")  # ran out of input before the end marker
        code = read(num_bits)
        if code in (0, 1):
            dictionary.append(chr(read(8 if code == 0 else 16)))
            code = len(dictionary) - 1
            enlarge_in -= 1
        elif code == 2:
            return "".join(result)
        if enlarge_in == 0:
            enlarge_in = 1 << num_bits
            num_bits += 1
        if code < len(dictionary):
            entry = dictionary[code]
        elif code == len(dictionary):
            entry = w + w[0]
        else:
            raise BodyError("invalid lz64 body")
        total += len(entry)
        if total > limit:
            raise BodyError("decompressed body is too large", too_large=True)
        result.append(entry)
        dictionary.append(w + entry[0])
        enlarge_in -= 1
        w = entry
        if enlarge_in == 0:
            enlarge_in = 1 << num_bits
            num_bits += 1


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
