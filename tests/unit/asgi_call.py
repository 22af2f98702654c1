"""One HTTP request through an ASGI app without a server, for unit tests of pure ASGI middleware."""

from typing import Any

from infra.http.principal import Principal, set_principal

Answer = tuple[int, dict[str, str], bytes]


async def call(
    app: Any, method: str, path: str, address: str = "10.0.0.1", principal: Principal | None = None
) -> Answer:
    """The answer's status, headers (lower-case names) and body."""
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "client": (address, 50000)}
    if principal:
        set_principal(scope, principal)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    headers = {name.decode(): value.decode() for name, value in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])
