"""The Host allowlist (DNS rebinding) and the Origin check measured against it.

Units first (:mod:`backend.core.hosts`), then the real app in-process: any Host that is
not listed gets 400, in-process calls pass only through ``InProcessMark``, and the
cross-site guard accepts only Origins on the list. ``tests/browser/test_hostile_origins.py``
repeats the important cases against a real ``aegis serve``.
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from starlette.datastructures import Headers

from backend.core.config import Settings
from backend.core.guards import InProcessMark
from backend.core.hosts import HostAllowlist, HostListError, foreign_navigation
from backend.main import create_api
from tests.backend.api_helpers import API, PASSWORD, Api, MakeApi, session_cookie

REGISTER = f"{API}/auth/register"
NEW_ADMIN = {"email": "mallory@evil.example", "password": PASSWORD, "full_name": "Mallory"}


# --- units ---------------------------------------------------------------------------


def test_default_for_loopback_lists_every_loopback_name_with_the_port() -> None:
    assert HostAllowlist.for_bound_address("127.0.0.1", 8000).entries == {
        "127.0.0.1:8000",
        "localhost:8000",
        "[::1]:8000",
    }
    assert HostAllowlist.for_bound_address("::1", 8443).entries == {
        "127.0.0.1:8443",
        "localhost:8443",
        "[::1]:8443",
    }


def test_default_for_another_address_is_that_address_alone() -> None:
    assert HostAllowlist.for_bound_address("192.0.2.10", 8000).entries == {"192.0.2.10:8000"}
    # Every interface includes loopback; other names must be listed by the operator.
    assert HostAllowlist.for_bound_address("0.0.0.0", 80).entries == {
        "127.0.0.1:80",
        "localhost:80",
        "[::1]:80",
    }


def test_an_entry_without_a_port_matches_only_a_host_without_one() -> None:
    allowlist = HostAllowlist.parse(" Aegis.Example.com , 127.0.0.1:8000,[::1]:8000")
    assert allowlist.allows_host("aegis.example.com")
    assert allowlist.allows_host("AEGIS.example.COM")
    assert not allowlist.allows_host("aegis.example.com:8000")
    assert allowlist.allows_host("127.0.0.1:8000")
    assert not allowlist.allows_host("127.0.0.1")
    assert not allowlist.allows_host("127.0.0.1:8001")
    assert allowlist.allows_host("[::1]:8000")
    assert not allowlist.allows_host("evil.example:8000")
    assert not allowlist.allows_host("")
    assert not allowlist.allows_host(None)


@pytest.mark.parametrize(
    ("origin", "scheme", "allowed"),
    [
        ("http://127.0.0.1:8000", "http", True),
        ("http://localhost:8000/", "http", True),
        ("https://aegis.example.com", "https", True),
        ("http://aegis.example.com", "https", False),  # scheme must match the request's
        ("https://127.0.0.1:8000", "http", False),
        ("http://127.0.0.1:9999", "http", False),  # another service on loopback
        ("http://evil.example:8000", "http", False),  # a rebinding page's own origin
        ("https://aegis.example.com:443", "https", False),  # browsers never send :443
        ("http://user@127.0.0.1:8000", "http", False),
        ("127.0.0.1:8000", "http", False),
        ("null", "http", False),
    ],
)
def test_origins_are_compared_with_the_list(origin: str, scheme: str, allowed: bool) -> None:
    allowlist = HostAllowlist.parse("127.0.0.1:8000,localhost:8000,aegis.example.com")
    assert allowlist.allows_origin(origin, scheme) is allowed


@pytest.mark.parametrize(
    "text",
    [
        "",
        " , ",
        "http://aegis.example.com",
        "aegis.example.com/",
        "*",
        "*.example.com",
        "host:0",
        "host:99999",
        "host:port",
        "::1:8000",
        "a b",
    ],
)
def test_bad_entries_are_refused_in_words(text: str) -> None:
    with pytest.raises(HostListError, match=r"is not a host or host:port|is empty"):
        HostAllowlist.parse(text)


def test_the_setting_is_validated_at_start_up() -> None:
    with pytest.raises(ValidationError, match="is not a host or host:port"):
        Settings(allowed_hosts="https://aegis.example.com", _env_file=None)


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"sec-fetch-site": "same-origin"}, False),
        ({"sec-fetch-site": "none"}, False),
        ({"sec-fetch-site": "cross-site"}, True),
        ({"sec-fetch-site": "same-site"}, True),
        ({"referer": "http://127.0.0.1:8000/dashboard/"}, False),
        ({"referer": "http://127.0.0.1:8001/"}, True),
        ({}, True),
    ],
)
def test_foreign_navigation(headers: dict[str, str], refused: bool) -> None:
    allowlist = HostAllowlist.parse("127.0.0.1:8000")
    reason = foreign_navigation(Headers(headers), "http", allowlist)
    assert (reason is not None) is refused, reason


# --- the real app, in-process ----------------------------------------------------------


async def client_with_host(api: Api, host: str) -> httpx.AsyncClient:
    client = await api.client()
    client.headers["host"] = host
    return client


async def test_an_unlisted_host_gets_400_in_words(api: Api) -> None:
    client = await client_with_host(api, "evil.example:8000")
    response = await client.get(f"{API}/health")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "evil.example:8000" in detail and "AEGIS_ALLOWED_HOSTS" in detail


async def test_a_rebinding_page_cannot_register_the_first_admin(api: Api) -> None:
    """Host and Origin agree (both the attacker's name): that proves nothing any more."""
    client = await client_with_host(api, "evil.example:8000")
    response = await client.post(
        REGISTER,
        json=NEW_ADMIN,
        headers={"origin": "http://evil.example:8000", "sec-fetch-site": "same-origin"},
    )
    assert response.status_code == 400
    assert session_cookie(response) is None
    assert api.user_count() == 0


async def test_a_foreign_origin_with_an_allowed_host_gets_403(api: Api) -> None:
    client = await api.client()
    response = await client.post(
        REGISTER, json=NEW_ADMIN, headers={"origin": "http://evil.example:8000"}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Cross-site request refused."}
    assert api.user_count() == 0


async def test_an_origin_of_another_listed_name_is_ours(make_api: MakeApi) -> None:
    api = await make_api(allowed_hosts="testserver,127.0.0.1:8000")
    client = await api.client()
    response = await client.post(
        REGISTER, json=NEW_ADMIN, headers={"origin": "http://127.0.0.1:8000"}
    )
    assert response.status_code == 201


async def test_the_in_process_host_passes_only_with_the_mark(api: Api) -> None:
    """``aegis.internal`` is the web target's in-process base URL: fine from inside
    (through InProcessMark), a 400 from anywhere else."""
    outside = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app), base_url="https://aegis.internal"
    )
    inside = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=InProcessMark(api.app)),
        base_url="https://aegis.internal",
    )
    async with outside, inside:
        assert (await outside.get(f"{API}/health")).status_code == 400
        assert (await inside.get(f"{API}/health")).status_code == 200


async def test_the_mark_cannot_be_sent_as_a_header(api: Api) -> None:
    client = await client_with_host(api, "aegis.internal")
    response = await client.get(
        f"{API}/health", headers={"aegis.in_process": "true", "aegis-in-process": "1"}
    )
    assert response.status_code == 400


async def test_the_api_refuses_to_start_without_a_host_list(settings: Settings) -> None:
    with pytest.raises(ValueError, match="AEGIS_ALLOWED_HOSTS"):
        create_api(settings.model_copy(update={"allowed_hosts": None}))
