"""Who is calling: the principal authentication found for a request, kept in the ASGI scope for what runs after."""

from dataclasses import dataclass
from typing import Any

READER, WRITER, ADMIN = "reader", "writer", "admin"
ROLES = (READER, WRITER, ADMIN)


@dataclass(frozen=True)
class Principal:
    name: str  # the token's name or the JWT's subject: what the events' metadata records as who asked
    role: str  # one of ROLES


def principal_of(scope: dict[str, Any]) -> Principal | None:
    """The request's principal, or None when it is anonymous (auth switched off, or an open route)."""
    return scope.get("state", {}).get("principal")


def set_principal(scope: dict[str, Any], principal: Principal) -> None:
    # Starlette's request.state reads the same dict, so routes see it as request.state.principal.
    scope.setdefault("state", {})["principal"] = principal
