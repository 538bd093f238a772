"""Bounded inputs: a number past what the database holds, or text with a NUL in it, is a
422 that says which value is wrong, never a 500; the bounds are in the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

from backend.api.bounds import SQL_INTEGER_MAX
from backend.models import User
from tests.backend.api_helpers import API, Api, MakeApi
from tests.backend.dashboard_helpers import ADMIN, VIEWER, admin_and_viewer, detail, user_id
from tests.postgres_cluster import PostgresCluster

HUGE = "99999999999999999999"  # past 64 bits: both engines' drivers raised on it
PAST_INT32 = str(SQL_INTEGER_MAX + 1)  # past PostgreSQL's INTEGER

LISTS = [f"{API}/users", f"{API}/audit", f"{API}/auth/sessions"]


@pytest.mark.parametrize("value", [HUGE, PAST_INT32, "-1"])
@pytest.mark.parametrize("url", LISTS)
async def test_list_offsets_out_of_range_are_422(api: Api, url: str, value: str) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    response = await admin.get(url, params={"offset": value})
    assert response.status_code == 422, response.text
    assert detail(response).startswith("Invalid request: offset: "), detail(response)
    assert response.json()["errors"][0]["loc"] == ["query", "offset"]


@pytest.mark.parametrize("url", LISTS)
async def test_the_largest_offset_is_an_empty_page(api: Api, url: str) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    response = await admin.get(url, params={"offset": SQL_INTEGER_MAX})
    assert response.status_code == 200, response.text
    items = response.json() if url.endswith("sessions") else response.json()["items"]
    assert items == []


@pytest.mark.parametrize("value", [HUGE, PAST_INT32])
async def test_audit_user_filter_out_of_range_is_422(api: Api, value: str) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    response = await admin.get(f"{API}/audit", params={"user_id": value})
    assert response.status_code == 422, response.text
    assert "user_id: Input should be less than or equal to 2147483647" in detail(response)
    nobody = await admin.get(f"{API}/audit", params={"user_id": SQL_INTEGER_MAX})
    assert nobody.status_code == 200 and nobody.json()["items"] == []


@pytest.mark.parametrize("value", [HUGE, PAST_INT32, "0"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/users/{}", {"role": "admin"}),
        ("DELETE", "/users/{}/sessions", None),
    ],
)
async def test_user_ids_out_of_range_are_422(
    api: Api, method: str, path: str, body: dict[str, Any] | None, value: str
) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    response = await admin.request(method, API + path.format(value), json=body)
    assert response.status_code == 422, response.text
    assert detail(response).startswith("Invalid request: user_id: "), detail(response)
    largest = await admin.request(method, API + path.format(SQL_INTEGER_MAX), json=body)
    assert largest.status_code == 404, largest.text


NUL_BODIES = [
    (
        "POST",
        "/auth/register",
        {"email": "n@example.com", "password": "x" * 12, "full_name": "A\0"},
    ),
    ("POST", "/users", {"email": "n@example.com", "full_name": "N\0ul", "role": "viewer"}),
    ("PATCH", "/users/{viewer}", {"full_name": "\0"}),
    ("PATCH", "/auth/me", {"full_name": "Ada\0"}),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_BODIES)
async def test_names_with_nul_are_422(
    api: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    admin, _ = await admin_and_viewer(api)
    url = API + path.format(viewer=user_id(api, VIEWER))
    response = await admin.request(method, url, json=body)
    assert response.status_code == 422, response.text
    assert detail(response) == "Invalid request: full_name: must not contain the NUL character"
    with api.db() as db:
        names = [user.full_name for user in db.query(User)]
    assert not any("\0" in name for name in names), names


@pytest.mark.parametrize(
    ("path", "params"),
    [("/users", {"search": "a\0"}), ("/audit", {"kind": "sign_in\0"})],
)
async def test_query_text_with_nul_is_422(api: Api, path: str, params: dict[str, str]) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    response = await admin.get(API + path, params=params)
    assert response.status_code == 422, response.text
    assert "must not contain the NUL character" in detail(response)


async def test_session_id_with_nul_or_too_long_is_422(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    for session_id in ["a%00b", "x" * 257]:
        response = await admin.delete(f"{API}/auth/sessions/{session_id}")
        assert response.status_code == 422, response.text
        assert detail(response).startswith("Invalid request: session_id: ")


def _integer_schemas(schema: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every integer (sub)schema under ``schema``, with where it was found."""
    found: list[tuple[str, dict[str, Any]]] = []
    if schema.get("type") == "integer":
        found.append((where, schema))
    for key in ("anyOf", "oneOf", "allOf"):
        for index, option in enumerate(schema.get(key, [])):
            found += _integer_schemas(option, f"{where}.{key}[{index}]")
    for name, prop in schema.get("properties", {}).items():
        found += _integer_schemas(prop, f"{where}.{name}")
    if "items" in schema:
        found += _integer_schemas(schema["items"], f"{where}[]")
    return found


async def test_every_integer_a_request_carries_is_bounded(api: Api) -> None:
    """Checked on the document, so a new route with a bare ``int`` fails here."""
    document = api.app.openapi()
    request_bodies = {
        name: schema
        for name, schema in document["components"]["schemas"].items()
        if any(
            op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            == {"$ref": f"#/components/schemas/{name}"}
            for ops in document["paths"].values()
            for op in ops.values()
        )
    }
    integers: list[tuple[str, dict[str, Any]]] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
                integers += _integer_schemas(parameter["schema"], where)
    for name, schema in request_bodies.items():
        integers += _integer_schemas(schema, f"body {name}")
    assert integers, "the document has integer parameters (offset, user_id, ...)"
    unbounded = [
        where
        for where, schema in integers
        if "minimum" not in schema or schema.get("maximum", SQL_INTEGER_MAX + 1) > SQL_INTEGER_MAX
    ]
    assert unbounded == []


async def test_the_same_bounds_on_postgresql(make_api: MakeApi, postgres: PostgresCluster) -> None:
    """PostgreSQL refused both a NUL in text and an offset past 64 bits with a DataError."""
    api = await make_api(database_url=postgres.create_database())
    admin, _ = await api.signed_in(ADMIN, register=True)
    for url in LISTS:
        assert (await admin.get(url, params={"offset": HUGE})).status_code == 422
        assert (await admin.get(url, params={"offset": SQL_INTEGER_MAX})).status_code == 200
    largest = f"{API}/users/{SQL_INTEGER_MAX}"
    assert (await admin.patch(largest, json={"role": "viewer"})).status_code == 404
    nul_name = await admin.patch(f"{API}/auth/me", json={"full_name": "Ada\0"})
    assert nul_name.status_code == 422, nul_name.text
    nul_search = await admin.get(f"{API}/users", params={"search": "\0"})
    assert nul_search.status_code == 422, nul_search.text
