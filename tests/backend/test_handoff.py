"""The one-time code that moves the session cookie into the browser."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from backend.models import AuditEvent, utcnow
from backend.services.handoff import HANDOFF_TTL_SECONDS
from tests.backend.api_helpers import API, Api, FakeClock, cookie_attributes, session_cookie

HANDOFF = f"{API}/auth/handoff"


async def new_code(client: httpx.AsyncClient) -> str:
    response = await client.post(HANDOFF)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expires_in"] == HANDOFF_TTL_SECONDS
    code = body["code"]
    assert isinstance(code, str) and len(code) >= 22
    return code


# What Chromium sends when our own page navigates its tab to the hand-off.
OWN_NAVIGATION = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate"}


async def redeem(
    api: Api, code: str, next_path: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    browser = await api.client()
    params = {} if next_path is None else {"next": next_path}
    response = await browser.get(
        f"{HANDOFF}/{code}",
        params=params,
        headers=OWN_NAVIGATION if headers is None else headers,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response


async def test_handoff_sets_the_same_token_and_redirects(api: Api) -> None:
    client, token = await api.signed_in(register=True)
    code = await new_code(client)
    assert token not in code
    response = await redeem(api, code, "/dashboard/sessions")
    assert response.headers["location"] == "/dashboard/sessions"
    header = session_cookie(response)
    assert header is not None
    assert header.split(";", 1)[0] == f"aegis_session={token}"
    attributes = cookie_attributes(header)
    assert "httponly" in attributes and attributes["samesite"] == "lax"
    # The browser now really is signed in with it.
    browser = await api.client()
    me = await browser.get(f"{API}/auth/me", headers={"cookie": f"aegis_session={token}"})
    assert me.status_code == 200
    assert api.sign_in_session_count() == 1  # the same session, not a new one


async def test_default_target_is_the_dashboard(api: Api) -> None:
    client, _ = await api.signed_in(register=True)
    response = await redeem(api, await new_code(client))
    assert response.headers["location"] == "/dashboard/"
    assert session_cookie(response) is not None


async def test_code_works_once(api: Api) -> None:
    client, _ = await api.signed_in(register=True)
    code = await new_code(client)
    assert session_cookie(await redeem(api, code)) is not None
    second = await redeem(api, code, "/dashboard/x")
    assert second.headers["location"] == "/dashboard/x"
    assert session_cookie(second) is None
    assert "set-cookie" not in second.headers


async def test_codes_are_distinct(api: Api) -> None:
    client, _ = await api.signed_in(register=True)
    codes = {await new_code(client) for _ in range(5)}
    assert len(codes) == 5


async def test_unknown_code_sets_no_cookie(api: Api) -> None:
    await api.signed_in(register=True)
    response = await redeem(api, "not-a-real-code")
    assert response.headers["location"] == "/dashboard/"
    assert "set-cookie" not in response.headers


async def test_overlong_code_is_refused(api: Api) -> None:
    browser = await api.client()
    response = await browser.get(f"{HANDOFF}/{'a' * 65}", follow_redirects=False)
    assert response.status_code == 422
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    ("next_path", "location"),
    [
        ("//evil.example", "/dashboard/"),
        ("//evil.example/dashboard/", "/dashboard/"),
        ("https://evil.example", "/dashboard/"),
        ("https://evil.example/dashboard/", "/dashboard/"),
        ("/dashboardevil", "/dashboard/"),
        ("/dashboard/\\evil.example", "/dashboard/"),
        ("/\\evil.example", "/dashboard/"),
        ("/api/v1/auth/me", "/dashboard/"),
        ("", "/dashboard/"),
        ("/dashboard", "/dashboard"),
        ("/dashboard/settings?tab=2", "/dashboard/settings?tab=2"),
    ],
)
async def test_next_only_goes_to_dashboard_pages(api: Api, next_path: str, location: str) -> None:
    client, _ = await api.signed_in(register=True)
    response = await redeem(api, await new_code(client), next_path)
    assert response.headers["location"] == location
    # A bad target still hands the cookie over, but only to our own page.
    assert session_cookie(response) is not None


async def test_expired_code_sets_no_cookie(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(api.app.state.handoffs, "clock", clock.utcnow)
    client, _ = await api.signed_in(register=True)
    code = await new_code(client)
    clock.advance(HANDOFF_TTL_SECONDS + 1)
    response = await redeem(api, code)
    assert "set-cookie" not in response.headers


async def test_code_just_inside_its_lifetime_works(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(api.app.state.handoffs, "clock", clock.utcnow)
    client, _ = await api.signed_in(register=True)
    code = await new_code(client)
    clock.advance(HANDOFF_TTL_SECONDS - 0.5)
    assert session_cookie(await redeem(api, code)) is not None


async def test_code_of_a_signed_out_session_sets_no_cookie(api: Api) -> None:
    client, _ = await api.signed_in(register=True)
    code = await new_code(client)
    assert (await client.post(f"{API}/auth/logout")).status_code == 200
    response = await redeem(api, code)
    assert "set-cookie" not in response.headers


async def test_code_of_an_expired_session_sets_no_cookie(api: Api) -> None:
    client, token = await api.signed_in(register=True)
    code = await new_code(client)
    api.update_sign_in_session(token, expires_at=utcnow() - timedelta(seconds=1))
    response = await redeem(api, code)
    assert "set-cookie" not in response.headers


# --- login CSRF: only a navigation from our own pages gets the cookie ------------------

REFERER_OURS = "http://testserver/dashboard/login"


@pytest.mark.parametrize(
    "headers",
    [
        OWN_NAVIGATION,
        {"sec-fetch-site": "none"},  # typed into the address bar, or a bookmark
        {"sec-fetch-site": "SAME-ORIGIN"},
        {"referer": REFERER_OURS},  # no fetch metadata: plain http to a LAN address
        {"referer": "http://testserver"},
    ],
    ids=["same-origin", "typed", "upper-case", "referer-ours", "referer-origin-only"],
)
async def test_our_own_navigation_gets_the_cookie(api: Api, headers: dict[str, str]) -> None:
    client, token = await api.signed_in(register=True)
    response = await redeem(api, await new_code(client), headers=headers)
    header = session_cookie(response)
    assert header is not None
    assert header.split(";", 1)[0] == f"aegis_session={token}"


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"},
        {"sec-fetch-site": "same-site"},  # a sibling subdomain is another site's page
        {"sec-fetch-site": "cross-site", "referer": REFERER_OURS},  # metadata decides
        {"sec-fetch-site": "something-new"},
        {"referer": "https://evil.example/attack.html"},
        {"referer": "https://testserver/dashboard/"},  # our name, another scheme
        {"referer": "http://testserver:8080/"},  # our name, another port
        {"referer": "not a url"},
        {},  # neither fetch metadata nor Referer: nothing says it was us
    ],
    ids=[
        "cross-site",
        "same-site",
        "cross-site-with-our-referer",
        "unknown-site-value",
        "foreign-referer",
        "referer-other-scheme",
        "referer-other-port",
        "referer-garbage",
        "no-evidence",
    ],
)
async def test_a_foreign_navigation_gets_no_cookie(api: Api, headers: dict[str, str]) -> None:
    """The attacker mints a code from their own session; the victim's browser opens it
    from the attacker's page. Before the fix this signed the victim in as the attacker."""
    attacker, _ = await api.signed_in(register=True)
    code = await new_code(attacker)
    response = await redeem(api, code, "/dashboard/users", headers=headers)
    assert response.headers["location"] == "/dashboard/users"  # the same harmless redirect
    assert "set-cookie" not in response.headers
    # The refused redeem burnt the code: it cannot be replayed, not even by our page.
    again = await redeem(api, code)
    assert "set-cookie" not in again.headers


async def test_a_refused_hand_off_is_audited_against_the_code_owner(api: Api) -> None:
    attacker, _ = await api.signed_in(register=True)
    code = await new_code(attacker)
    await redeem(api, code, headers={"sec-fetch-site": "cross-site"})
    with api.db() as db:
        rows = db.scalars(select(AuditEvent).where(AuditEvent.kind == "handoff_refused")).all()
        assert len(rows) == 1
        [row] = rows
        assert row.target == "admin@example.com"
        assert "Sec-Fetch-Site: cross-site" in row.detail


async def test_a_foreign_navigation_with_an_unknown_code_writes_nothing(api: Api) -> None:
    """Audit rows only for valid codes: anonymous requests cannot fill the log."""
    await api.signed_in(register=True)
    await redeem(api, "not-a-real-code", headers={"sec-fetch-site": "cross-site"})
    with api.db() as db:
        kinds = set(db.scalars(select(AuditEvent.kind)).all())
    assert "handoff_refused" not in kinds
