"""The HTTP command API: one router per bounded context, all under /v1."""

from fastapi import FastAPI

from commands import inventory_http, orders_http, payments_http, shipping_http

_ROUTERS = tuple(context.router for context in (orders_http, inventory_http, payments_http, shipping_http))


def include_command_routes(app: FastAPI) -> None:
    """Every context's routes, each router straight on the app rather than through a router of routers: every
    level of nesting is one more round of route checks on every request."""
    for context_router in _ROUTERS:
        app.include_router(context_router)
