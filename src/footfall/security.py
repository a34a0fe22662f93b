"""Secrets: random tokens from `secrets`, stored only as argon2 hashes."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict

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
