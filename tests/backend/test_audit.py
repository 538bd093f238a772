"""The audit trail: rows written by each action (also for refusals), and the audit API."""

from __future__ import annotations

import pytest

from backend.models import AuditEvent
from backend.services import audit
from backend.services.audit import KINDS, AuditKind
from tests.backend.api_helpers import API, Api, FakeClock, MakeApi, cookie_token
from tests.backend.dashboard_helpers import (
    ADMIN,
    VIEWER,
    admin_and_viewer,
    audit_rows,
    create_user,
    user_id,
)

AUDIT = f"{API}/audit"


async def test_sign_up_sign_in_and_sign_out_are_recorded(api: Api) -> None:
    _client, _ = await api.signed_in(ADMIN, register=True, ip="10.0.0.7")
    [registered] = audit_rows(api, "registered")
    assert registered.actor_email == ADMIN and registered.ip == "10.0.0.7"
    assert registered.actor_id == user_id(api, ADMIN)
    laptop, _ = await api.signed_in(ADMIN, ip="10.0.0.8")
    [sign_in] = audit_rows(api, "sign_in")
    assert sign_in.ip == "10.0.0.8" and sign_in.target == ADMIN
    assert (await laptop.post(f"{API}/auth/logout")).status_code == 200
    [sign_out] = audit_rows(api, "sign_out")
    assert sign_out.actor_email == ADMIN and sign_out.ip == "10.0.0.8"


async def test_failed_sign_ins_are_recorded_although_the_request_fails(api: Api) -> None:
    await api.signed_in(ADMIN, register=True)
    client = await api.client(ip="203.0.113.5")
    assert (await api.login(client, ADMIN, "wrong password!")).status_code == 401
    assert (await api.login(client, "ghost@example.com", "wrong password!")).status_code == 401
    known, unknown = audit_rows(api, "sign_in_failed")
    assert known.actor_id == user_id(api, ADMIN) and known.actor_email == ADMIN
    assert unknown.actor_id is None and unknown.actor_email == "ghost@example.com"
    assert known.ip == unknown.ip == "203.0.113.5"
    assert audit_rows(api, "sign_in") == []


async def test_a_deactivated_account_signing_in_is_recorded(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    await create_user(admin, VIEWER)
    api.update_user(VIEWER, is_active=False)
    assert (await api.login(await api.client(), VIEWER)).status_code == 403
    [row] = audit_rows(api, "sign_in_failed")
    assert row.actor_email == VIEWER and "deactivated" in row.detail


async def test_throttled_sign_ins_are_one_row_per_key_and_window_with_a_count(
    make_api: MakeApi,
) -> None:
    api = await make_api(login_failures_allowed=3, login_failure_window_seconds=600)
    admin, _ = await api.signed_in(ADMIN, register=True)
    clock = FakeClock()
    api.app.state.throttles.clock = clock.utcnow
    client = await api.client(ip="203.0.113.5")
    for _ in range(3):
        assert (await api.login(client, ADMIN, "wrong password!")).status_code == 401
    for _ in range(6):  # not six rows: one, counting six
        assert (await api.login(client, ADMIN)).status_code == 429
    [row] = audit_rows(api, "sign_in_throttled")
    assert row.count == 6
    assert row.actor_email == row.target == ADMIN and row.actor_id is None
    assert row.ip == "203.0.113.5" and "refused until" in row.detail
    listed = (await admin.get(AUDIT, params={"kind": "sign_in_throttled"})).json()
    assert [item["count"] for item in listed["items"]] == [6]
    # The next window's refusals are a row of their own.
    clock.advance(600)
    for _ in range(3):
        assert (await api.login(client, ADMIN, "wrong password!")).status_code == 401
    assert (await api.login(client, ADMIN)).status_code == 429
    assert sorted(row.count for row in audit_rows(api, "sign_in_throttled")) == [1, 6]


async def test_an_address_over_its_limit_is_one_row_for_every_email_it_tries(
    make_api: MakeApi,
) -> None:
    api = await make_api(login_failures_allowed=1)
    await api.signed_in(ADMIN, register=True)
    sprayer = await api.client(ip="203.0.113.9")
    codes = [
        (await api.login(sprayer, f"user{n}@example.com", "wrong password!")).status_code
        for n in range(20)
    ]
    assert codes == [401] * 4 + [429] * 16  # the address's limit is 4 x the email's
    [row] = audit_rows(api, "sign_in_throttled")
    assert row.count == 16 and row.ip == "203.0.113.9"
    assert row.target == "" and row.actor_email == ""  # many emails: none is named
    assert "this address" in row.detail


async def test_ending_a_session_is_recorded(api: Api) -> None:
    laptop, _ = await api.signed_in(ADMIN, register=True)
    _, phone_token = await api.signed_in(ADMIN)
    phone = api.sign_in_session_row(phone_token)
    assert phone is not None
    assert (await laptop.delete(f"{API}/auth/sessions/{phone.id}")).status_code == 204
    [row] = audit_rows(api, "session_revoked")
    assert row.actor_email == ADMIN and "127.0.0.1" in row.detail
    # A refused deletion writes nothing.
    assert (await laptop.delete(f"{API}/auth/sessions/{phone.id}")).status_code == 404
    assert len(audit_rows(api, "session_revoked")) == 1


async def test_audit_list_newest_first_with_paging(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    for n in range(3):
        await create_user(admin, f"user{n}@example.com")
    page = (await admin.get(AUDIT, params={"limit": 2})).json()
    assert page["total"] == 4 and (page["offset"], page["limit"]) == (0, 2)
    assert [item["target"] for item in page["items"]] == ["user2@example.com", "user1@example.com"]
    item = page["items"][0]
    assert set(item) >= {"id", "at", "kind", "actor_email", "target", "ip", "detail", "count"}
    assert item["count"] == 1
    assert item["kind"] == "user_created" and item["actor_email"] == ADMIN
    rest = (await admin.get(AUDIT, params={"limit": 2, "offset": 2})).json()
    assert [i["kind"] for i in rest["items"]] == ["user_created", "registered"]
    ids = [i["id"] for i in page["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)


async def test_audit_filters_by_kind_and_user(api: Api) -> None:
    admin, viewer = await admin_and_viewer(api)
    vid = user_id(api, VIEWER)
    await admin.patch(f"{API}/users/{vid}", json={"full_name": "Vera V."})
    await viewer.post(f"{API}/auth/logout")
    only_created = (await admin.get(AUDIT, params={"kind": "user_created"})).json()
    assert only_created["total"] == 1
    assert only_created["items"][0]["target"] == VIEWER
    about_viewer = (await admin.get(AUDIT, params={"user_id": vid})).json()
    # Created by the admin (target), signed in, renamed (target), signed out (actor).
    assert [i["kind"] for i in about_viewer["items"]] == [
        "sign_out",
        "profile_updated",
        "sign_in",
        "user_created",
    ]
    both = (await admin.get(AUDIT, params={"user_id": vid, "kind": "sign_in"})).json()
    assert both["total"] == 1 and both["items"][0]["actor_email"] == VIEWER
    nobody = (await admin.get(AUDIT, params={"user_id": 9999})).json()
    assert nobody == {"items": [], "total": 0, "offset": 0, "limit": 50}


async def test_audit_refuses_bad_filters(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    unknown = await admin.get(AUDIT, params={"kind": "launched_missiles"})
    assert unknown.status_code == 422
    assert "Unknown kind 'launched_missiles'" in unknown.json()["detail"]
    assert (await admin.get(AUDIT, params={"user_id": "me"})).status_code == 422
    assert (await admin.get(AUDIT, params={"user_id": 0})).status_code == 422


async def test_audit_kinds(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    kinds = (await admin.get(f"{AUDIT}/kinds")).json()
    assert kinds == [
        "registered",
        "sign_in",
        "sign_in_failed",
        "sign_in_throttled",
        "sign_out",
        "session_revoked",
        "user_created",
        "role_changed",
        "user_deactivated",
        "user_reactivated",
        "password_changed",
        "profile_updated",
        "handoff_refused",
    ]
    assert tuple(kinds) == KINDS


async def test_record_joins_the_callers_transaction(api: Api) -> None:
    client = await api.client()
    response = await api.register(client)
    assert cookie_token(response)
    with api.db() as db:
        audit.record(db, AuditKind.SIGN_IN, actor=None, actor_email="x@example.com")
        db.rollback()  # the change failed: its audit row goes with it
    assert audit_rows(api, "sign_in") == []
    with api.db() as db:
        event = audit.record(db, "sign_out", actor=None, target="t" * 1000, detail="d" * 5000)
        db.commit()
        assert isinstance(event, AuditEvent)
    [row] = audit_rows(api, "sign_out")
    assert row.actor_email == "" and len(row.target) == 320 and len(row.detail) == 1000
    with api.db() as db, pytest.raises(ValueError, match="unknown audit kind"):
        audit.record(db, "sign_in_twice", actor=None)
