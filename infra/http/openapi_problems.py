"""The served OpenAPI names every problem+json answer an operation may give, so the document tells the truth."""

import re
from typing import Any

from fastapi import FastAPI

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}
_RATE_LIMIT = {"description": "The IETF draft's remaining quota and reset.", "schema": {"type": "string"}}
_RATE_LIMIT_POLICY = {"description": "The IETF draft's quota and window.", "schema": {"type": "string"}}

# The reason each problem status is given; the phrases are what a client reads in the document.
_BAD_REQUEST = "The body is not JSON, or a header (If-Match, Idempotency-Key) is malformed"
_NOT_FOUND = "No such aggregate, read-model row, saga or schema subject"
_CONFLICT = "The aggregate is not at the If-Match version, or the action does not fit its state"
_TOO_LARGE = "The request body is over the size limit"
_INVALID = "A field or parameter is invalid, or the command breaks a business rule"
_RATE_LIMITED = "Over the caller's rate limit; retry after the Retry-After seconds"
_UNAVAILABLE = "A dependency is down, the read model is behind, or the API sheds load; retry after Retry-After"

# Operations that act on no aggregate of their own: nothing to find or to conflict with.
_NO_AGGREGATE = {("post", "/v1/payments/gateway/script")}
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")


def document_problems(app: FastAPI) -> None:
    """Wraps app.openapi so each /v1 operation lists the problem answers its class of route may give."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                if path.startswith("/v1/"):
                    _document(operation, method, path)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def problems_of(method: str, path: str, operation: dict[str, Any]) -> dict[str, str]:
    """Status -> why, for one /v1 operation, from what it takes: a body, a path parameter, any parameter."""
    has_body = "requestBody" in operation
    acts_on_aggregate = _PATH_PARAMETER.search(path) is not None and (method, path) not in _NO_AGGREGATE
    problems = {"429": _RATE_LIMITED, "503": _UNAVAILABLE}
    if has_body or operation.get("parameters"):
        problems["422"] = _INVALID
    if has_body:
        problems |= {"400": _BAD_REQUEST, "413": _TOO_LARGE}
    if acts_on_aggregate:
        problems["404"] = _NOT_FOUND
    if method == "post" and (method, path) not in _NO_AGGREGATE:
        problems["409"] = _CONFLICT
    return problems


def _document(operation: dict[str, Any], method: str, path: str) -> None:
    responses = operation.setdefault("responses", {})
    for status, why in problems_of(method, path, operation).items():
        answer: dict[str, Any] = {"description": why, "content": _PROBLEM}
        if status in ("429", "503"):
            answer["headers"] = {"Retry-After": _RETRY_AFTER}
        if status == "429":
            answer["headers"] |= {"RateLimit": _RATE_LIMIT, "RateLimit-Policy": _RATE_LIMIT_POLICY}
        # FastAPI's own 422 describes its validation error as JSON; ours is problem+json (infra/http/problems.py).
        responses[status] = answer
