"""Schemathesis against a real ``aegis serve``: every operation of the OpenAPI document
with valid and invalid inputs, each request sent anonymously, as an administrator and as
a viewer.

Every response must be free of server errors and declared by the document: its status
code, its body's schema, its content type and its headers. Each generated request is
sent in all three auth contexts (generating costs more than sending). The contexts are
kept alive: the fuzzer may well sign its own session out, or demote or deactivate its
own account, so after any change that went through, each context's account and session
are checked and put back straight in the database (signing in again would cost a
password hash, and the sign-in throttle would soon refuse it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.config import SESSION_COOKIE, Settings
from backend.core.db import make_engine
from backend.models import Role, User
from backend.services.sessions import (
    SignInClient,
    issue_sign_in_session,
    resolve_sign_in_session,
)
from tests.fuzz.fuzz_support import FuzzTotals, ServedApp

Operation = schemathesis.APIOperation[Any, Any, Any, Any]
FuzzCase = schemathesis.Case[Operation]

PASSWORD = "correct horse battery"
ADMIN = "fuzz-admin@example.com"
VIEWER = "fuzz-viewer@example.com"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
# Generated requests per operation and generation mode (fewer where an operation has
# fewer distinct inputs); each is sent three times, once per auth context.
EXAMPLES_PER_RUN = 30
MIN_REQUESTS = 2000
REQUEST_TIMEOUT_SECONDS = 30
ENDLESS_STREAM = "/api/v1/system/live"
SIGN_IN = "POST /api/v1/auth/login"  # its 401 is a wrong password, not a lost session
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Principal:
    """One auth context: nobody, or an account with a live session."""

    def __init__(self, name: str, email: str | None = None, token: str | None = None) -> None:
        self.name = name
        self.email = email
        self.token = token
        self.role = Role.ADMIN.value if name == "admin" else Role.VIEWER.value

    def cookies(self) -> dict[str, str]:
        return {SESSION_COOKIE: self.token} if self.token else {}


class Fuzzer:
    def __init__(self, served: ServedApp, principals: list[Principal], totals: FuzzTotals):
        self.served = served
        self.principals = principals
        self.totals = totals
        self.failures: list[str] = []
        self.covered: dict[str, set[str]] = {p.name: set() for p in principals}
        self.signed_out: list[str] = []
        """Requests a signed-in context sent that were answered as if signed out."""
        self.settings = Settings(_env_file=None, data_dir=served.data_dir)
        self.engine = make_engine(self.settings.resolved_database_url)
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy look-ups on loopback
        self.unsure: set[str] = {p.name for p in principals}
        """Contexts whose account or session a request may have changed since last checked."""

    def close(self) -> None:
        self.http.close()
        self.engine.dispose()

    def fuzz(self, operation: Operation, mode: GenerationMode) -> None:
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_RUN,
            deadline=None,
            database=None,  # no .hypothesis folder: every run is the same anyway
            derandomize=True,  # a CI gate: the same requests for the same code
            phases=[Phase.generate],  # every failure is recorded, nothing to shrink
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def run(case: FuzzCase) -> None:
            for principal in self.principals:
                self.send(case, principal)

        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            # Nothing invalid to send: no parameters and no body, or (seen for a path
            # parameter) every invalid value the generator made was unfit for a URL.
            if mode is not GenerationMode.NEGATIVE:
                raise
            if _has_inputs(operation):
                self.totals.no_invalid_inputs.append(operation.label)

    def send(self, case: FuzzCase, principal: Principal) -> None:
        if principal.name in self.unsure:
            self.restore(principal)
            self.unsure.discard(principal.name)
        response = case.call(
            base_url=self.served.base_url,
            session=self.http,
            cookies=principal.cookies(),
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        self.http.cookies.clear()  # a sign-in's cookie belongs to no context
        self.totals.requests[principal.name] += 1
        self.totals.statuses[response.status_code] += 1
        self.covered[principal.name].add(case.operation.label)
        if principal.email and response.status_code == 401 and case.operation.label != SIGN_IN:
            self.signed_out.append(f"{principal.name}: {case.operation.label}")
        if response.status_code < 300 and case.method.upper() not in SAFE_METHODS:
            # Only a change that went through can have signed out or demoted a context.
            self.unsure.update(p.name for p in self.principals)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:
            self.failures.append(f"[{principal.name}] {exc}")

    def restore(self, principal: Principal) -> None:
        """Put the account and the session back as they were, if the fuzzer changed them."""
        if principal.email is None:
            return
        with Session(self.engine, expire_on_commit=False) as db:
            user = db.scalar(select(User).where(User.email == principal.email))
            assert user is not None, f"{principal.email} is gone"
            if user.role != principal.role or not user.is_active:
                user.role, user.is_active = principal.role, True
                db.commit()
                self.totals.restored += 1
            if not (
                principal.token and resolve_sign_in_session(db, self.settings, principal.token)
            ):
                issued = issue_sign_in_session(
                    db, self.settings, user, SignInClient(ip="127.0.0.1", user_agent="fuzz")
                )
                principal.token = issued.token
                db.commit()
                self.totals.restored += 1


def _has_inputs(operation: Operation) -> bool:
    return bool(list(operation.iter_parameters()) or list(operation.body))


def _post(http: requests.Session, url: str, body: dict[str, str], status: int) -> None:
    response = http.post(url, json=body, timeout=REQUEST_TIMEOUT_SECONDS)
    assert response.status_code == status, response.text


def _principals(served: ServedApp) -> list[Principal]:
    """Nobody; the first account (an administrator); a viewer it creates. Through the API."""
    api = f"{served.base_url}/api/v1"
    with requests.Session() as admin, requests.Session() as viewer:
        signup = {"email": ADMIN, "password": PASSWORD, "full_name": "Fuzz Admin"}
        _post(admin, f"{api}/auth/register", signup, 201)
        created = {"email": VIEWER, "password": PASSWORD, "full_name": "Fuzz Viewer"}
        _post(admin, f"{api}/users", created, 201)
        _post(viewer, f"{api}/auth/login", {"email": VIEWER, "password": PASSWORD}, 200)
        return [
            Principal("anonymous"),
            Principal("admin", ADMIN, admin.cookies[SESSION_COOKIE]),
            Principal("viewer", VIEWER, viewer.cookies[SESSION_COOKIE]),
        ]


@contextmanager
def _fuzzer(served: ServedApp, totals: FuzzTotals) -> Iterator[Fuzzer]:
    fuzzer = Fuzzer(served, _principals(served), totals)
    try:
        yield fuzzer
    finally:
        fuzzer.close()


def test_every_operation_in_three_auth_contexts(
    served_app: ServedApp, fuzz_totals: FuzzTotals
) -> None:
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(f"{served_app.base_url}/openapi.json")
    schema.validate()  # the document itself is valid OpenAPI
    # The live feed never ends while its session lives: a fuzzed call would wait for good.
    # tests/backend/test_live_feed.py sends it bad input, no session and a revoked one.
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()  # an operation Schemathesis cannot read: the document is wrong
        if result.ok().path != ENDLESS_STREAM:
            operations.append(result.ok())
    fuzz_totals.operations = {operation.label for operation in operations}
    with _fuzzer(served_app, fuzz_totals) as fuzzer:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzzer.fuzz(operation, mode)
    fuzz_totals.failures = len(fuzzer.failures)
    fuzz_totals.seconds = time.monotonic() - started
    assert len(operations) >= 20, sorted(fuzz_totals.operations)
    for principal, covered in fuzzer.covered.items():
        assert covered == fuzz_totals.operations, principal
    assert fuzzer.signed_out == [], "a signed-in context was not signed in"
    assert sum(fuzz_totals.requests.values()) >= MIN_REQUESTS, fuzz_totals.summary()
    assert not fuzzer.failures, (
        f"{len(fuzzer.failures)} failures, the first ones:\n"
        + "\n".join(fuzzer.failures[:10])
        + f"\n----- end of the server log -----\n{served_app.log()[-10000:]}"
    )
