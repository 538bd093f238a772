"""One-time codes that move a session cookie from the server-side jar into the browser.

In the web target the user signs in through the Flet UI, so the session cookie first
lands in the per-session ``httpx`` jar on the server. For the sign-in to survive a
browser refresh or a server restart the browser must hold the HttpOnly cookie too, and
only an HTTP response can give it one. The UI asks for a short-lived, single-use code
and sends the browser to ``GET /api/v1/auth/handoff/{code}``, which sets the cookie and
redirects back. The token itself never appears in a URL or in browser JavaScript.

Codes live in the database (table ``handoff_codes``), so a code minted by one instance
can be redeemed through another behind a load balancer. What is stored reveals neither:

- the key is SHA-256 of the code, so the table cannot be used to redeem anything;
- the session token is sealed: XORed with a keystream derived from the code by
  HMAC-SHA-512 under a label of its own (so the keystream is not the stored hash). The
  code is 192 random bits and is used once, so a one-time pad keyed by it is enough;
  whoever reads the table learns nothing of the token without the code, and the code
  exists only in the browser's URL and the response that minted it.

Single use is one atomic statement, ``DELETE … WHERE code_hash = :h RETURNING
sealed_token``, so two instances redeeming the same code at once cannot both get the
token. Expired rows are deleted on redeem (the row is gone whatever the outcome), by
each ``create`` (opportunistically) and by the scheduler.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from backend.core.security import hash_token
from backend.models import HandoffCode, utcnow

HANDOFF_TTL_SECONDS = 30
CODE_BYTES = 24  # 192 bits
_SEAL_LABEL = b"aegis cookie hand-off seal v1"

Clock = Callable[[], datetime]


def _keystream(code: str, length: int) -> bytes:
    blocks = bytearray()
    counter = 0
    while len(blocks) < length:
        message = _SEAL_LABEL + counter.to_bytes(4, "big")
        blocks += hmac.new(code.encode(), message, hashlib.sha512).digest()
        counter += 1
    return bytes(blocks[:length])


def seal(code: str, token: str) -> bytes:
    """``token`` encrypted under ``code`` (its own inverse: see ``unseal``)."""
    plain = token.encode()
    return bytes(a ^ b for a, b in zip(plain, _keystream(code, len(plain)), strict=True))


def unseal(code: str, sealed: bytes) -> str | None:
    plain = bytes(a ^ b for a, b in zip(sealed, _keystream(code, len(sealed)), strict=True))
    try:
        return plain.decode()
    except UnicodeDecodeError:
        return None


class CookieHandoffStore:
    """Mints and redeems hand-off codes in the database given to each call."""

    def __init__(self, ttl_seconds: float = HANDOFF_TTL_SECONDS, clock: Clock = utcnow) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def create(self, db: Session, token: str) -> str:
        """A new code for ``token``; commits."""
        code = secrets.token_urlsafe(CODE_BYTES)
        now = self.clock()
        self._delete_expired(db, now)
        db.add(
            HandoffCode(
                code_hash=hash_token(code),
                sealed_token=seal(code, token),
                expires_at=now + timedelta(seconds=self.ttl_seconds),
            )
        )
        db.commit()
        return code

    def redeem(self, db: Session, code: str) -> str | None:
        """The token for a code, once; None for an unknown, used or expired code. Commits.

        The row is deleted whether or not it has expired, in the one statement that
        decides: a second redeem, on any instance, finds nothing.
        """
        now = self.clock()
        statement = (
            delete(HandoffCode)
            .where(HandoffCode.code_hash == hash_token(code))
            .returning(HandoffCode.sealed_token, HandoffCode.expires_at)
        )
        row = db.execute(statement).first()
        db.commit()
        if row is None or row.expires_at < now:
            return None
        return unseal(code, row.sealed_token)

    def delete_expired(self, db: Session) -> int:
        """Delete codes past their lifetime; commits. The number deleted."""
        deleted = self._delete_expired(db, self.clock())
        db.commit()
        return deleted

    @staticmethod
    def _delete_expired(db: Session, now: datetime) -> int:
        result = db.execute(delete(HandoffCode).where(HandoffCode.expires_at < now))
        return int(getattr(result, "rowcount", 0) or 0)
