"""Every error leaves as JSON that names the problem in words."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

log = logging.getLogger("aegis.api")


def _describe(error: dict[str, object]) -> str:
    if error.get("type") == "json_invalid":
        return "The request body is not valid JSON."
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]  # type: ignore[attr-defined]
    message = str(error.get("msg", "is invalid"))
    if error.get("type") == "missing":
        message = "is required"
    return f"{'.'.join(location)}: {message}" if location else message


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [dict(e) for e in exc.errors()]
    problems = [_describe(e) for e in errors]
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "detail": "Invalid request: " + "; ".join(problems),
            "errors": [{"loc": list(e.get("loc", ())), "msg": _describe(e)} for e in errors],
        },
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "Something went wrong on the server. Nothing was changed."},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
