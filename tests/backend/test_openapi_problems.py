"""The OpenAPI document declares the error bodies the API really sends.

The fuzzer (tests/fuzz) checks every response against the document; these are the
quick, targeted checks: the 422 shape (FastAPI's default declares an array of errors,
the API sends ``detail`` as a sentence), the guards' 403 and 413, and 429's Retry-After.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.backend.api_helpers import API, Api
from tests.backend.dashboard_helpers import ADMIN

SCHEMAS = "#/components/schemas/"


def _schema(document: dict[str, Any], ref: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][ref.removeprefix(SCHEMAS)]
    return found


def _matches(document: dict[str, Any], ref: str, body: Any) -> None:
    """The body has the declared object's required keys, and no others."""
    schema = _schema(document, ref)
    assert isinstance(body, dict), body
    assert set(schema["required"]) <= set(body) <= set(schema["properties"]), (ref, body)
    assert isinstance(body["detail"], str), body


def _declared(document: dict[str, Any], path: str, method: str, status: int) -> str:
    response = document["paths"][API + path][method]["responses"][str(status)]
    ref: str = response["content"]["application/json"]["schema"]["$ref"]
    return ref


async def test_every_error_response_is_declared_as_a_problem(api: Api) -> None:
    document = api.app.openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["detail"]
    assert schemas["ValidationProblem"]["required"] == ["detail"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            # What the stack around every route can answer.
            assert {"400", "403", "413", "500"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status[0] in "45":
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    expected = "ValidationProblem" if status == "422" else "Problem"
                    assert ref == SCHEMAS + expected, (method, path, status)


async def test_a_422_is_sent_as_declared(api: Api) -> None:
    document = api.app.openapi()
    admin, _ = await api.signed_in(ADMIN, register=True)
    refused = await admin.get(f"{API}/users", params={"offset": -1, "limit": 0})
    assert refused.status_code == 422
    _matches(document, _declared(document, "/users", "get", 422), refused.json())
    assert [e["loc"] for e in refused.json()["errors"]] == [
        ["query", "offset"],
        ["query", "limit"],
    ]
    # A rule a route checks itself: the same declared shape, without the list.
    short = await admin.post(
        f"{API}/users", json={"email": "s@example.com", "full_name": "S", "password": "short"}
    )
    assert short.status_code == 422
    _matches(document, _declared(document, "/users", "post", 422), short.json())


async def test_the_guards_answers_are_declared(api: Api) -> None:
    document = api.app.openapi()
    client = await api.client()
    cross_site = await client.post(
        f"{API}/auth/login",
        json={"email": "a@example.com", "password": "x"},
        headers={"origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    _matches(document, _declared(document, "/auth/login", "post", 403), cross_site.json())
    too_large = await client.post(
        f"{API}/auth/login",
        content=b"{" + b" " * api.settings.max_body_bytes + b"}",
        headers={"content-type": "application/json"},
    )
    assert too_large.status_code == 413
    _matches(document, _declared(document, "/auth/login", "post", 413), too_large.json())


async def test_throttled_sign_ins_declare_retry_after(api: Api) -> None:
    document = api.app.openapi()
    login = document["paths"][f"{API}/auth/login"]["post"]["responses"]["429"]
    assert login["headers"]["Retry-After"]["schema"]["type"] == "integer"
    client = await api.client()
    response: httpx.Response | None = None
    for _ in range(api.settings.login_failures_allowed + 1):
        response = await api.login(client, "nobody@example.com", "wrong password")
    assert response is not None and response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    _matches(document, login["content"]["application/json"]["schema"]["$ref"], response.json())
