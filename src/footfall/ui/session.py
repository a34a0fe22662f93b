"""The admin's browser session: a signed cookie, and a CSRF token for every request that changes state.

The session cookie is HttpOnly and signed with the server secret; its subject carries a fingerprint of the
password hash, so changing the password ends every other session. Requests that change state must echo
the CSRF token (readable by the page's scripts, derived from the session) in `X-CSRFToken`: a page of
another site can make the browser send the cookie, but cannot read the token.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request, Response

from footfall.meta.models import User
from footfall.routing import row_id
from footfall.security import server_secret, sign, unsign

SESSION_COOKIE = "footfall_session"
CSRF_COOKIE = "footfall_csrf"
CSRF_HEADER = "x-csrftoken"
SESSION_TTL = 14 * 86_400
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class UserSession:
    user_id: int
    csrf: str


def _secret(request: Request) -> bytes:
    return server_secret(request.app.state.runtime.settings.data_dir)


def _subject(user: User) -> str:
    fingerprint = hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]
    return f"user-{user.id}-{fingerprint}"


def _csrf(secret: bytes, token: str) -> str:
    return hmac.new(secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def current(request: Request) -> UserSession | None:
    """The signed-in user, or None. The signature is checked first (a forged cookie costs no lookup), then
    the subject against the stored password hash, so sessions end when the password changes."""
    token = request.cookies.get(SESSION_COOKIE, "")
    subject = token.rsplit(".", 2)[0] if token.count(".") >= 2 else ""
    kind, _, rest = subject.partition("-")
    user_id = row_id(rest.partition("-")[0])
    secret = _secret(request)
    if kind != "user" or user_id is None or not unsign(secret, token, subject):
        return None
    with request.app.state.runtime.meta.session() as session:
        user = session.get(User, user_id)
        if user is None or not user.password_hash or not hmac.compare_digest(_subject(user), subject):
            return None
    return UserSession(user.id, _csrf(secret, token))


def csrf_ok(request: Request, user: UserSession) -> bool:
    if request.method in SAFE_METHODS:
        return True
    return hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), user.csrf)


def start(request: Request, response: Response, user: User) -> None:
    secret = _secret(request)
    token = sign(secret, _subject(user), SESSION_TTL)
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, token, max_age=SESSION_TTL, httponly=True, samesite="lax", secure=secure, path="/"
    )
    response.set_cookie(CSRF_COOKIE, _csrf(secret, token), max_age=SESSION_TTL, samesite="lax", secure=secure)


def end(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
