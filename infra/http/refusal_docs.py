"""Documents in the OpenAPI what the rate limits and the shedding answer before any route: 429 and 503 (their
problem+json body refers to the Problem schema that infra/http/openapi_security.py puts in the components)."""

from typing import Any

from fastapi import FastAPI

from infra.http.openapi_security import PROBLEM_CONTENT
from infra.http.request_class import COMMANDS, QUERIES, READS

SECONDS = {"schema": {"type": "integer", "minimum": 1}}
TOO_MANY_REQUESTS = {
    "description": "Over this principal's (or client address's) rate limit; retry after Retry-After seconds.",
    "headers": {
        "Retry-After": {"description": "Seconds until the window ends.", **SECONDS},
        "RateLimit": {"description": 'What is left, e.g. `"commands";r=0;t=1`.', "schema": {"type": "string"}},
        "RateLimit-Policy": {"description": 'The quota, e.g. `"commands";q=200;w=1`.', "schema": {"type": "string"}},
    },
    "content": PROBLEM_CONTENT,
}
OVERLOADED = {
    "description": "The API is at its bound on commands in flight, or the command side is unavailable; retry.",
    "headers": {"Retry-After": {"description": "Seconds to wait before retrying.", **SECONDS}},
    "content": PROBLEM_CONTENT,
}


def document_refusals(app: FastAPI, limited: set[str]) -> None:
    """After FastAPI builds the schema: 429 on every /v1 operation of a limited class, 503 on every command."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI builds it once and keeps it; adding again below changes nothing
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue
            for method, operation in operations.items():
                kind = QUERIES if method.upper() in READS else COMMANDS
                responses = operation.setdefault("responses", {})
                if kind in limited:
                    responses.setdefault("429", TOO_MANY_REQUESTS)
                if kind == COMMANDS:
                    responses.setdefault("503", OVERLOADED)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
