"""Health check and the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.backend.api_helpers import API, Api
from tests.postgres_cluster import PostgresCluster


async def test_health_reports_database_ok(api: Api) -> None:
    client = await api.client()
    response = await client.get(f"{API}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert isinstance(body["database_latency_ms"], float)
    assert body["database_latency_ms"] >= 0


async def test_health_answers_503_when_the_database_is_gone(
    api: Api, request: pytest.FixtureRequest
) -> None:
    client = await api.client()
    engine = api.app.state.engine
    if engine.dialect.name == "sqlite":
        engine.dispose()
        api.settings.resolved_data_dir.joinpath("aegis.db").unlink()
        # A directory where the database file was: SQLite cannot open it.
        api.settings.resolved_data_dir.joinpath("aegis.db").mkdir()
    else:  # the database dropped under the app: its connections end, new ones are refused
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        cluster.psql(f'DROP DATABASE "{engine.url.database}" WITH (FORCE)')
    response = await client.get(f"{API}/health")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "The database is unreachable right now; try again in a few seconds."
    }
    assert int(response.headers["retry-after"]) >= 1


async def test_openapi_lists_the_api(api: Api) -> None:
    client = await api.client()
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Aegis"
    paths = document["paths"]
    for path in (
        f"{API}/health",
        f"{API}/auth/register",
        f"{API}/auth/login",
        f"{API}/auth/logout",
        f"{API}/auth/me",
        f"{API}/auth/handoff",
        f"{API}/auth/sessions",
        f"{API}/auth/sessions/{{session_id}}",
    ):
        assert path in paths, path
    # The browser-only redirect is deliberately left out of the schema.
    assert f"{API}/auth/handoff/{{code}}" not in paths
