"""Every error leaves as JSON that names the problem in words.

A database that cannot serve right now (down, frozen, locked, out of pooled
connections) is a 503 with ``Retry-After`` whose ``detail`` starts with "The database"
(the dashboard shows a banner from it), never a 500: the request was fine, and the
same request will work once the database is back. It is logged as one line, not a
traceback, and at most every 30 s during an outage (:class:`OutageLog`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from backend.api.problems import SERVER_ERROR, FieldProblem, Problem, ValidationProblem
from backend.core.db_errors import DATABASE_RETRY_AFTER_SECONDS, OutageLog, database_unavailable
from backend.services.scheduler import describe_error

log = logging.getLogger("aegis.api")


def _describe(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "The request body is not valid JSON."
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    message = str(error.get("msg", "is invalid"))
    if error.get("type") == "missing":
        message = "is required"
    return f"{'.'.join(location)}: {message}" if location else message


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = [dict(e) for e in exc.errors()]
    body = ValidationProblem(
        detail="Invalid request: " + "; ".join(_describe(e) for e in errors),
        errors=[FieldProblem(loc=list(e.get("loc", ())), msg=_describe(e)) for e in errors],
    )
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content=body.model_dump(mode="json")
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content=Problem(detail=SERVER_ERROR).model_dump(),
    )


def database_unavailable_answer(detail: str) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content=Problem(detail=detail).model_dump(),
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def install_error_handlers(app: FastAPI) -> None:
    outages = OutageLog(log)

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        detail = database_unavailable(exc)
        if detail is None:  # a database error that is a bug, not an outage
            return await unexpected_error(request, exc)
        cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig else exc
        outages.failed(
            f"database unavailable on {request.method} {request.url.path}: "
            f"{describe_error(cause)}; answered 503"
        )
        return database_unavailable_answer(detail)

    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(sa_exc.DBAPIError, database_error)
    app.add_exception_handler(sa_exc.TimeoutError, database_error)
    app.add_exception_handler(Exception, unexpected_error)
