"""The served OpenAPI says what authentication says: a bearer token on every /v1 operation, and its 401/403."""

from typing import Any

from fastapi import FastAPI

from infra.security.route_roles import required_role

SCHEME = "bearerAuth"
# A problem+json body, as every error of the API is; the Problem schema is added to the components below.
PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


def document_security(app: FastAPI) -> None:
    """Wraps app.openapi so the generated document carries the bearer scheme and each route's needed role."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        components = spec.setdefault("components", {})
        components.setdefault("securitySchemes", {})[SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "A static API token (`streamkeep tokens issue`) or a JWT; roles reader < writer < admin.",
        }
        components.setdefault("schemas", {}).setdefault("Problem", _PROBLEM_SCHEMA)
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                role = required_role(method.upper(), path)
                if role is None:
                    continue
                operation["security"] = [{SCHEME: []}]
                operation["description"] = (operation.get("description", "") + f"\n\nNeeds the `{role}` role.").strip()
                responses = operation.setdefault("responses", {})
                unauthorised = {"description": "No bearer token, or one not accepted", "content": PROBLEM_CONTENT}
                responses.setdefault("401", unauthorised)
                responses.setdefault(
                    "403", {"description": f"The token's role is below {role}", "content": PROBLEM_CONTENT}
                )
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
