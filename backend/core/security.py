"""Password hashing and session tokens (sign-in throttling: ``services.throttle``).

argon2 is imported at the first hash or check, not with this module: the API's start
(the desktop's above all) does not wait for it, and only a sign-in, a password change
or a new user needs it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

# OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
# Verified against when the email is unknown, so both answers cost one argon2 run: a
# hash of a random secret nobody kept, made once with the parameters above (a test
# checks they still match). A constant, so no hash is computed at import or at the
# first sign-in; knowing it tells nothing, and a match against it never signs anyone in.
DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$Y3xXJLTmwwa4LmpikpIHTA"
    "$CkRrcL9dgYjdMuLKC2b7DXgdNG0K/PTF7eWCvB43sMk"
)

_hasher: PasswordHasher | None = None
_hasher_lock = threading.Lock()


def password_hasher() -> PasswordHasher:
    """The one hasher, made at the first call (threads asking together get the same)."""
    global _hasher
    hasher = _hasher
    if hasher is None:
        with _hasher_lock:
            if _hasher is None:
                from argon2 import PasswordHasher

                _hasher = PasswordHasher(
                    time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM
                )
            hasher = _hasher
    return hasher


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant-work check: an unknown user still pays for one verification."""
    hasher = password_hasher()  # imports argon2, so its exceptions below are loaded
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return hasher.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_session_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
