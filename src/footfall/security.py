"""Secrets: random tokens from `secrets`, stored only as argon2 hashes."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def new_token(prefix: str = "", nbytes: int = 24) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


class Verifier:
    """argon2 verification with a small memory of recent successes.

    argon2 is deliberately slow (tens of ms); API clients present the same key on every request, so a
    successful (hash, secret) pair is remembered by its SHA-256 for a bounded number of entries.
    """

    def __init__(self, size: int = 1024) -> None:
        self._ok: OrderedDict[bytes, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def verify(self, stored_hash: str, secret: str) -> bool:
        key = hashlib.sha256(f"{stored_hash}\x00{secret}".encode()).digest()
        with self._lock:
            if key in self._ok:
                self._ok.move_to_end(key)
                return True
        try:
            _hasher.verify(stored_hash, secret)
        except (VerificationError, InvalidHashError):
            return False
        with self._lock:
            self._ok[key] = None
            while len(self._ok) > self._size:
                self._ok.popitem(last=False)
        return True


verifier = Verifier()


@functools.cache
def server_secret(data_dir: Path) -> bytes:
    """The key that signs session and share cookies: FOOTFALL_SECRET_KEY, else a random one kept in the data
    dir (0600). Read once per process; made atomically, so concurrent first requests agree on it."""
    configured = os.environ.get("FOOTFALL_SECRET_KEY")
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    if not path.exists():
        partial = path.with_name(f"secret.key.{secrets.token_hex(8)}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(partial, path)  # fails if another request made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_text().strip().encode()


def sign(secret: bytes, subject: str, ttl_seconds: int) -> str:
    """A compact signed token `<subject>.<expiry>.<hmac>` (for share cookies; subjects are not secret)."""
    expiry = int(time.time()) + ttl_seconds
    body = f"{subject}.{expiry}"
    mac = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def unsign(secret: bytes, token: str, subject: str) -> bool:
    """True when `token` was signed for `subject` and has not expired."""
    body, _, mac = token.rpartition(".")
    found_subject, _, expiry = body.rpartition(".")
    if found_subject != subject or not (expiry.isascii() and expiry.isdigit()) or int(expiry) < time.time():
        return False
    return hmac.compare_digest(mac, hmac.new(secret, body.encode(), hashlib.sha256).hexdigest())
