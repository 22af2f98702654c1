"""The one place that turns errors into `application/problem+json` answers."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from commands.ports import CommandBackendUnavailable
from projections.ports import NotCaughtUp, ReadModelUnavailable

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "body"


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(400, "Malformed JSON", "the request body is not valid JSON")
    fields = [{"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "")} for e in errors]
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return problem(422, "Invalid request", detail, errors=fields)


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    if isinstance(error.detail, dict):
        detail = dict(error.detail)
        title = detail.pop("title", "Error")
        return problem(error.status_code, title, str(detail.pop("detail", "")), **detail)
    return problem(error.status_code, str(error.detail), str(error.detail))


async def _backend_down(request: Request, error: CommandBackendUnavailable) -> JSONResponse:
    return problem(503, "Command side unavailable", str(error), retry_after=error.retry_after_s)


async def _read_side_down(request: Request, error: ReadModelUnavailable) -> JSONResponse:
    return problem(503, "Read models unavailable", str(error), retry_after=error.retry_after_s)


async def _not_caught_up(request: Request, error: NotCaughtUp) -> JSONResponse:
    return problem(503, "Read model behind", str(error), retry_after=error.retry_after_s)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "Internal error", "the server failed; the request may be retried")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    # FastAPI's HTTPException (raised by our routers) is a subclass of Starlette's (404 for unknown paths).
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(CommandBackendUnavailable, _backend_down)  # type: ignore[arg-type]
    app.add_exception_handler(ReadModelUnavailable, _read_side_down)  # type: ignore[arg-type]
    app.add_exception_handler(NotCaughtUp, _not_caught_up)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
