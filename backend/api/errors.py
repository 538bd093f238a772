"""Every error leaves as JSON that names the problem in words."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from backend.api.problems import SERVER_ERROR, FieldProblem, Problem, ValidationProblem

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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
