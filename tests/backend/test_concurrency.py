"""The rules hold under a crowd: a real uvicorn, real parallel clients, many rounds.

Each test starts one server on a fresh database and runs ``ROUNDS`` rounds; every round
fires its requests from separate threads released together by a barrier, then checks
the invariant in the database itself. Run with ``-s`` to see the rounds per test.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import pytest

from backend.core.config import SESSION_COOKIE
from backend.services.users import LAST_ADMIN
from tests.backend.live_server import LiveServer, in_parallel, live_server

ROUNDS = 20
SIGN_UPS = 6
WRONG_PASSWORDS = 30
FAILURES_ALLOWED = 5
REDEEMS = 8
PASSWORD = "correct horse battery"
ADMIN_A, ADMIN_B = "ada@example.com", "bob@example.com"


def report(test: str, rounds: int, **figures: object) -> None:
    shown = ", ".join(f"{name}={value}" for name, value in figures.items())
    print(f"\n{test}: {rounds} rounds" + (f" ({shown})" if shown else ""))


def active_admins(server: LiveServer) -> int:
    return int(server.scalar("SELECT count(*) FROM users WHERE role = 'admin' AND is_active"))


def sign_up(server: LiveServer, email: str) -> httpx.Response:
    with server.client() as client:
        body = {"email": email, "password": PASSWORD, "full_name": email}
        return client.post("/auth/register", json=body)


def signed_in(server: LiveServer, email: str) -> httpx.Client:
    client = server.client()
    response = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


def empty_the_database(server: LiveServer) -> None:
    server.execute("DELETE FROM sessions", "DELETE FROM audit_events", "DELETE FROM users")


@pytest.mark.parametrize("open_registration", [False, True], ids=["closed", "open"])
def test_parallel_sign_ups_make_exactly_one_admin(
    tmp_path: Path, database_url: str, open_registration: bool
) -> None:
    with live_server(
        tmp_path, database_url=database_url, allow_registration=open_registration
    ) as server:
        for round_no in range(ROUNDS):
            empty_the_database(server)
            calls = [partial(sign_up, server, f"user{i}@example.com") for i in range(SIGN_UPS)]
            responses = in_parallel(calls)
            where = f"round {round_no + 1}/{ROUNDS}"
            codes = sorted(r.status_code for r in responses)
            if open_registration:
                assert codes == [201] * SIGN_UPS, f"{where}: {codes}"
            else:
                assert codes == [201] + [403] * (SIGN_UPS - 1), f"{where}: {codes}"
                for refused in (r for r in responses if r.status_code == 403):
                    assert refused.json()["detail"].startswith("Registration is closed"), where
            roles = sorted(r.json()["role"] for r in responses if r.status_code == 201)
            assert roles == ["admin"] + ["viewer"] * (len(roles) - 1), f"{where}: {roles}"
            assert active_admins(server) == 1, where
        report(f"sign-ups ({'open' if open_registration else 'closed'})", ROUNDS, clients=SIGN_UPS)


def test_parallel_wrong_passwords_reach_the_hash_at_most_the_limit(
    tmp_path: Path, database_url: str
) -> None:
    with live_server(
        tmp_path, database_url=database_url, login_failures_allowed=FAILURES_ALLOWED
    ) as server:
        assert sign_up(server, ADMIN_A).status_code == 201

        # One client (connection) per attacker thread, kept across rounds.
        attackers = [server.client() for _ in range(WRONG_PASSWORDS)]
        body = {"email": ADMIN_A, "password": "not the password"}
        guesses = [partial(client.post, "/auth/login", json=body) for client in attackers]
        for round_no in range(ROUNDS):
            responses = in_parallel(guesses)
            where = f"round {round_no + 1}/{ROUNDS}"
            codes = [r.status_code for r in responses]
            assert codes.count(401) == FAILURES_ALLOWED, f"{where}: {sorted(codes)}"
            assert codes.count(429) == WRONG_PASSWORDS - FAILURES_ALLOWED, where
            for refused in (r for r in responses if r.status_code == 429):
                assert refused.headers["retry-after"].isdigit(), where
            # One aggregated audit row per refusing key (the email's, and the address's
            # once it is over its own, looser limit), counting every refusal.
            with server.engine.connect() as connection:
                rows = connection.exec_driver_sql(
                    "SELECT target, ip, count FROM audit_events WHERE kind = 'sign_in_throttled'"
                ).all()
            assert 1 <= len(rows) <= 2, f"{where}: {rows}"
            assert sum(count for _, _, count in rows) == codes.count(429), f"{where}: {rows}"
            assert len({(row.target, row.ip) for row in rows}) == len(rows), where
            server.execute("DELETE FROM throttle_counters", "DELETE FROM audit_events")
        for client in attackers:
            client.close()
        report("wrong passwords", ROUNDS, clients=WRONG_PASSWORDS, limit=FAILURES_ALLOWED)


def two_signed_in_admins(server: LiveServer) -> tuple[httpx.Client, httpx.Client, int, int]:
    assert sign_up(server, ADMIN_A).status_code == 201
    a = signed_in(server, ADMIN_A)
    body = {"email": ADMIN_B, "full_name": "Bob", "role": "admin", "password": PASSWORD}
    created = a.post("/users", json=body)
    assert created.status_code == 201, created.text
    b = signed_in(server, ADMIN_B)
    return a, b, int(a.get("/auth/me").json()["id"]), int(created.json()["user"]["id"])


def assert_one_winner(where: str, responses: list[httpx.Response]) -> int:
    """Exactly one change went through; the other was refused in words. Races (409) seen."""
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 1, f"{where}: {codes} {[r.text for r in responses]}"
    [loser] = [r for r in responses if r.status_code != 200]
    # 409: both passed the admin check and the rule refused the second under its lock.
    # 403 / 401: the winner's change landed before the loser's request was even
    # authorised (demoted, or deactivated and signed out).
    assert loser.status_code in (409, 403, 401), f"{where}: {loser.status_code} {loser.text}"
    if loser.status_code == 409:
        assert loser.json()["detail"] == LAST_ADMIN, where
    return int(loser.status_code == 409)


def test_mutual_demotion_leaves_an_admin(tmp_path: Path, database_url: str) -> None:
    with live_server(tmp_path, database_url=database_url) as server:
        a, b, a_id, b_id = two_signed_in_admins(server)
        raced = 0
        try:
            for round_no in range(ROUNDS):
                server.execute("UPDATE users SET role = 'admin', is_active = true")
                responses = in_parallel(
                    [
                        partial(a.patch, f"/users/{b_id}", json={"role": "viewer"}),
                        partial(b.patch, f"/users/{a_id}", json={"role": "viewer"}),
                    ]
                )
                where = f"round {round_no + 1}/{ROUNDS}"
                assert active_admins(server) >= 1, f"{where}: no active admin left"
                raced += assert_one_winner(where, responses)
        finally:
            a.close()
            b.close()
        report("mutual demotion", ROUNDS, refused_by_the_rule_with_409=raced)


DEACTIVATE = {"is_active": False}
DEMOTE = {"role": "viewer"}
# (what A does to B, what B does to A)
MIXES = [(DEACTIVATE, DEMOTE), (DEMOTE, DEACTIVATE), (DEACTIVATE, DEACTIVATE)]


def test_deactivate_against_demote_leaves_an_admin(tmp_path: Path, database_url: str) -> None:
    with live_server(tmp_path, database_url=database_url) as server:
        a, b, a_id, b_id = two_signed_in_admins(server)
        clients = {ADMIN_A: a, ADMIN_B: b}
        raced = 0
        try:
            for round_no in range(ROUNDS):
                server.execute("UPDATE users SET role = 'admin', is_active = true")
                for email, client in list(clients.items()):
                    if client.get("/auth/me").status_code == 401:  # deactivated last round
                        client.close()
                        clients[email] = signed_in(server, email)
                a, b = clients[ADMIN_A], clients[ADMIN_B]
                to_b, to_a = MIXES[round_no % len(MIXES)]
                calls: list[Callable[[], httpx.Response]] = [
                    partial(a.patch, f"/users/{b_id}", json=to_b),
                    partial(b.patch, f"/users/{a_id}", json=to_a),
                ]
                responses = in_parallel(calls)
                where = f"round {round_no + 1}/{ROUNDS} ({to_b} vs {to_a})"
                assert active_admins(server) >= 1, f"{where}: no active admin left"
                raced += assert_one_winner(where, responses)
        finally:
            for client in clients.values():
                client.close()
        report("deactivate vs demote", ROUNDS, refused_by_the_rule_with_409=raced)


def test_a_handoff_code_sets_the_cookie_once(tmp_path: Path, database_url: str) -> None:
    with live_server(tmp_path, database_url=database_url) as server:
        assert sign_up(server, ADMIN_A).status_code == 201
        owner = signed_in(server, ADMIN_A)
        navigation = {
            "sec-fetch-site": "same-origin",
            "sec-fetch-mode": "navigate",
            "host": server.host,
        }

        def redeem(code: str) -> httpx.Response:
            with server.client(**navigation) as browser:
                return browser.get(f"/auth/handoff/{code}", follow_redirects=False)

        try:
            for round_no in range(ROUNDS):
                minted = owner.post("/auth/handoff")
                assert minted.status_code == 200, minted.text
                responses = in_parallel([partial(redeem, minted.json()["code"])] * REDEEMS)
                where = f"round {round_no + 1}/{ROUNDS}"
                assert [r.status_code for r in responses] == [303] * REDEEMS, where
                with_cookie = [
                    r
                    for r in responses
                    if any(
                        h.startswith(f"{SESSION_COOKIE}=") for h in r.headers.get_list("set-cookie")
                    )
                ]
                assert len(with_cookie) == 1, f"{where}: {len(with_cookie)} responses set it"
        finally:
            owner.close()
        report("hand-off double redeem", ROUNDS, clients=REDEEMS)
