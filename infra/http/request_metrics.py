"""Counts and times every HTTP request by its route template (`/v1/orders/{order_id}`), never by its raw path; with
tracing on, each request's server span too."""

from time import perf_counter
from typing import Any

from infra.observability import tracing
from infra.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

UNMATCHED = "unmatched"  # paths no route knows: one label value, whatever a client sends


class RequestMetrics:
    """ASGI middleware. Starlette's router leaves the matched route in the scope, so the template costs no second
    match (prometheus-fastapi-instrumentator matches every route again per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # The labelled series, found once per (route, method, status): labels() costs more than the count itself.
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._traced = tracing.enabled()  # set up before the app is built (configure_tracing)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def answer(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self._traced and scope["path"] not in tracing.UNTRACED_PATHS:
                with tracing.serving(scope) as span:
                    try:
                        await self.app(scope, receive, answer)
                    finally:
                        tracing.served(span, scope["method"], getattr(scope.get("route"), "path", None), status)
            else:
                await self.app(scope, receive, answer)
        finally:
            key = (getattr(scope.get("route"), "path", UNMATCHED), scope["method"], str(status))
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = (HTTP_REQUESTS.labels(*key), HTTP_DURATION.labels(*key[:2]))
            series[0].inc()
            series[1].observe(perf_counter() - started)
