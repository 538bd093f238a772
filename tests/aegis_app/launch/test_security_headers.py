"""Every response of the web app carries the anti-framing and hardening headers.

The whole ``aegis serve`` app (API, mounted Flet app, CanvasKit route, redirects) in
one TestClient, so the mounted sub-app's own responses are covered as well as the
API's and the errors produced before any route runs. ``tests/browser`` shows the
dashboard still renders in Chromium with them, and that another origin cannot frame it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from aegis_app.launch.web import create_web_app
from backend.core.config import Settings
from backend.core.guards import SECURITY_HEADERS

with warnings.catch_warnings():
    # As in test_flet_web_patches: plain httpx still works for the TestClient.
    warnings.filterwarnings(
        "ignore", message="Using `httpx` with `starlette.testclient` is deprecated"
    )
    from starlette.testclient import TestClient

EXPECTED = {
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.fixture
def web_app(settings: Settings) -> FastAPI:
    return create_web_app(settings)


@pytest.fixture
def client(web_app: FastAPI) -> Iterator[TestClient]:
    # raise_server_exceptions=False: the 500 case below must arrive as a response.
    with TestClient(web_app, raise_server_exceptions=False) as test_client:
        yield test_client


def assert_hardened(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get_list(name) == [value], (
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{name}={response.headers.get_list(name)}"
        )


def test_the_expected_headers_are_the_ones_sent() -> None:
    assert dict(SECURITY_HEADERS) == EXPECTED


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/dashboard/", 200),  # the Flet index
        ("GET", "/dashboard/sessions", 200),  # its SPA fallback
        ("GET", "/dashboard/main.dart.js", 200),  # a static file of the sub-app
        ("GET", "/dashboard/manifest.json", 200),
        ("GET", "/canvaskit/canvaskit.wasm", 200),
        ("GET", "/", 307),  # redirect to the dashboard
        ("GET", "/api/v1/health", 200),
        ("GET", "/api/v1/auth/me", 401),
        ("GET", "/api/v1/nope", 404),
        ("DELETE", "/api/v1/health", 405),
        ("POST", "/api/v1/auth/login", 422),
        ("GET", "/api/v1/auth/handoff/whatever", 303),
        ("GET", "/openapi.json", 200),
        ("GET", "/docs", 200),
    ],
)
def test_every_kind_of_response_is_hardened(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path, follow_redirects=False)
    assert response.status_code == status, response.text
    assert_hardened(response)


def test_refusals_before_any_route_are_hardened(client: TestClient) -> None:
    assert_hardened(client.get("/api/v1/health", headers={"host": "evil.example"}))  # 400
    cross_site = client.post("/api/v1/auth/logout", headers={"origin": "https://evil.example"})
    assert cross_site.status_code == 403
    assert_hardened(cross_site)
    too_big = client.post("/api/v1/auth/login", content=b"x" * 70_000)
    assert too_big.status_code == 413
    assert_hardened(too_big)


def test_a_server_error_is_hardened(client: TestClient, web_app: FastAPI) -> None:
    """Starlette answers a 500 from its outermost middleware: the headers must be
    outside even that."""

    @web_app.get("/api/v1/test-only-boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    response = client.get("/api/v1/test-only-boom")
    assert response.status_code == 500
    assert_hardened(response)


def test_flet_keeps_its_own_isolation_headers_once(client: TestClient) -> None:
    response = client.get("/dashboard/")
    assert response.headers.get_list("cross-origin-opener-policy") == ["same-origin"]
    assert response.headers.get_list("cross-origin-embedder-policy") == ["require-corp"]
