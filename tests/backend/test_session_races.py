"""A session row ended by two requests at once (found by running the suite on PostgreSQL).

A deactivation deletes the user's sessions while one of that user's requests, having
read its session row, finds the user inactive and deletes the row too; or the clean-up
job and a request both end an expired session. The second delete must be a no-op, not
a warning (an error under the suite's filterwarnings, a 500 in the live concurrency
test) or a StaleDataError.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from backend.core.security import hash_token
from backend.models import SignInSession, utcnow
from backend.services.sessions import end_sign_in_session, resolve_sign_in_session
from tests.backend.api_helpers import Api


async def test_ending_a_session_another_transaction_just_ended(api: Api) -> None:
    _, token = await api.signed_in(register=True)
    with api.db() as first:
        row = first.scalar(
            select(SignInSession).where(SignInSession.token_hash == hash_token(token))
        )
        assert row is not None
        with api.db() as second:
            second.execute(delete(SignInSession).where(SignInSession.id == row.id))
            second.commit()
        end_sign_in_session(first, row)
    assert api.sign_in_session_row(token) is None


async def test_a_session_ended_while_its_request_reads_it_is_no_error(api: Api) -> None:
    _, token = await api.signed_in(register=True)
    # Its last-seen time is due for an update, and it is gone before the update runs.
    api.update_sign_in_session(token, last_seen_at=utcnow() - timedelta(minutes=5))
    with api.db() as request:

        @event.listens_for(request, "loaded_as_persistent")
        def ended_elsewhere(_: Session, instance: object) -> None:
            if isinstance(instance, SignInSession):
                with api.db() as other:
                    other.execute(delete(SignInSession).where(SignInSession.id == instance.id))
                    other.commit()

        # Valid when read, so this request goes ahead; its last-seen update finds nothing.
        assert resolve_sign_in_session(request, api.settings, token) is not None
    assert api.sign_in_session_row(token) is None
