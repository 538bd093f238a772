"""Error bodies, and their declaration in the OpenAPI document.

Every error leaves as ``{"detail": "<in words>"}`` (``Problem``); a request that fails
validation also lists each problem (``ValidationProblem``). Errors that depend on the
route, such as "No such user.", are declared on the route with :func:`problem`. The ones
that come with signing in are shared mappings (``SIGNED_IN``, ``ADMIN_ONLY``) given to
routers and routes. The ones that follow from the stack rather than the route are added
here, in one pass over the finished document, so that no route can forget them: 400 from
the Host allowlist, 403 and 413 from the guards in front of every route, 500, and the
real shape of every 4xx and 5xx body (FastAPI's default 422 is an array we never send).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

SCHEMAS_REF = "#/components/schemas/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Problem(BaseModel):
    """Why the request was refused, in words."""

    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int]
    """Where the problem is, e.g. ``["body", "email"]`` or ``["query", "offset"]``."""
    msg: str


class ValidationProblem(BaseModel):
    """A request that does not match the schema (or a rule on one of its values)."""

    detail: str
    """Every problem in one sentence, ready to show."""
    errors: list[FieldProblem] = Field(default_factory=list)
    """One entry per problem when the request did not match the schema; absent when a
    route refused a value itself (e.g. a password that is too short)."""


def problem(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    """A ``responses=`` entry for an error that a route raises itself."""
    entry: dict[str, Any] = {"model": Problem, "description": description}
    if retry_after:
        entry["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return entry


# Shared ``responses=`` mappings for routers and routes behind the session dependencies.
SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: problem("You are not signed in, or your session has ended."),
}
ADMIN_ONLY: dict[int | str, dict[str, Any]] = {
    **SIGNED_IN,
    403: problem("This needs an administrator."),
}

UNKNOWN_HOST = "The Host header names a host that this server does not answer to."
UNREADABLE_BODY = "The body could not be read (it is not UTF-8)."
CROSS_SITE = "Cross-site request refused (Origin or Sec-Fetch-Site names another site)."
DESKTOP_GUARD = "Desktop backend only: the launch secret is missing or wrong."
TOO_LARGE = "The request body is larger than the server accepts."
INVALID_REQUEST = "The request does not match the schema, or one of its values breaks a rule."
SERVER_ERROR = "Something went wrong on the server. Nothing was changed."
DATABASE_UNAVAILABLE = (
    "The database is unreachable, not answering or busy; try again after Retry-After seconds."
)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def document_problems(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare every error response each operation can give."""
    build_default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build_default()  # cached by FastAPI; completed here in place
        for path_item in document.get("paths", {}).values():
            for method, operation in path_item.items():
                if method in METHODS:
                    _declare(operation, method.upper())
        _add_models(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _declare(operation: dict[str, Any], method: str) -> None:
    """Add the causes every operation shares to what its route declared itself."""
    has_body = "requestBody" in operation
    causes = {
        400: [UNKNOWN_HOST, *([UNREADABLE_BODY] if has_body else [])],
        403: [*([CROSS_SITE] if method not in SAFE_METHODS else []), DESKTOP_GUARD],
        413: [TOO_LARGE],
        500: [SERVER_ERROR],
        503: [DATABASE_UNAVAILABLE],
    }
    responses = operation["responses"]
    for status, reasons in causes.items():
        entry = responses.setdefault(str(status), {})
        described = [entry["description"]] if entry.get("description") else []
        entry["description"] = " ".join([*described, *reasons])
    responses["503"].setdefault("headers", problem("", retry_after=True)["headers"])
    if responses.get("422", {}).get("description") == "Validation Error":  # FastAPI's words
        responses["422"]["description"] = INVALID_REQUEST
    for status, entry in responses.items():
        if status.startswith(("4", "5")):
            entry["content"] = _json(ValidationProblem if status == "422" else Problem)
    operation["responses"] = dict(sorted(responses.items()))


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": SCHEMAS_REF + model.__name__}}}


def _add_models(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _, definitions = models_json_schema(
        [(Problem, "serialization"), (ValidationProblem, "serialization")],
        ref_template=SCHEMAS_REF + "{model}",
    )
    schemas.update(definitions.get("$defs", {}))
    # FastAPI's default 422 body, replaced everywhere above, is not sent by this API.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
