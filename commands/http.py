"""The HTTP command API: one router per bounded context, all under /v1."""

from fastapi import APIRouter

from commands import inventory_http, orders_http, payments_http, shipping_http

router = APIRouter()
for context_routes in (orders_http, inventory_http, payments_http, shipping_http):
    router.include_router(context_routes.router)
