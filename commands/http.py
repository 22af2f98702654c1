"""The HTTP command API: one router per bounded context, all under /v1."""

from commands import inventory_http, orders_http, payments_http, shipping_http

# Included one by one by the app rather than through a router of routers: every level of nesting is one more
# round of route checks on every request.
ROUTERS = tuple(context.router for context in (orders_http, inventory_http, payments_http, shipping_http))
