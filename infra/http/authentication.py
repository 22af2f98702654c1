"""Checks the bearer token on every /v1 route before anything else runs: 401 without a token we accept, 403 when
its role may not call the route; the principal found is left in the scope for rate limits and the envelope."""

from typing import Any

from infra.http.problems import problem
from infra.security.authenticator import Authenticator
from infra.security.jwt_tokens import InvalidToken
from infra.security.principal import set_principal
from infra.security.route_roles import allows, required_role

REALM = 'Bearer realm="streamkeep"'


class Authentication:
    """ASGI middleware; with no authenticator (auth switched off) every request passes as anonymous."""

    def __init__(self, app: Any, authenticator: Authenticator | None) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.authenticator is None:
            await self.app(scope, receive, send)
            return
        required = required_role(scope["method"], scope["path"])
        if required is None:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        if token is None:
            # RFC 6750: a request without credentials gets the challenge alone, no error code.
            answer = _unauthorised("a bearer token is needed: Authorization: Bearer <token>", REALM)
            await answer(scope, receive, send)
            return
        try:
            principal = await self.authenticator.principal(token)
        except InvalidToken as error:
            challenge = f'{REALM}, error="invalid_token", error_description="{_quoted(str(error))}"'
            await _unauthorised(str(error), challenge)(scope, receive, send)
            return
        if not allows(principal.role, required):
            route = f"{scope['method']} {scope['path']}"
            detail = f"{principal.name} is a {principal.role}; {route} needs the {required} role"
            await problem(403, "Forbidden", detail, required_role=required)(scope, receive, send)
            return
        set_principal(scope, principal)
        await self.app(scope, receive, send)


def _bearer(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def _unauthorised(detail: str, challenge: str) -> Any:
    answer = problem(401, "Unauthorized", detail)
    answer.headers["WWW-Authenticate"] = challenge
    return answer


def _quoted(text: str) -> str:
    # error_description is a quoted-string of printable ASCII (RFC 6750 §3), without '"' or '\'.
    return "".join(c for c in text if 0x20 <= ord(c) < 0x7F and c not in '"\\')
