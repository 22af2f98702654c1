"""Sheds overload: a command arriving while too many are in flight in this process gets 503 at once, unqueued."""

from typing import Any

from infra.http.problems import problem
from infra.http.request_class import COMMANDS, request_class
from infra.observability.metrics import SHED

# The problem type draft-ietf-httpapi-ratelimit-headers-11 (section 5.2) registers for a server short of capacity.
TEMPORARY_REDUCED_CAPACITY = "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity"
RETRY_AFTER_S = 1  # a command in flight takes tens of milliseconds at capacity: a slot is free within a second


class CommandShedding:
    """ASGI middleware. A command's work is all inside the app (parse, send to Kafka, wait for its outcome), so
    counting the commands inside bounds that work, and an answer at once keeps clients from queueing in our
    process. Queries are not counted: they read a pool of connections that bounds them already."""

    def __init__(self, app: Any, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0  # one event loop per process: no lock needed
        # Built once: under overload every refusal's CPU is taken from the commands being worked on.
        refusal = problem(
            503,
            "Overloaded",
            f"{max_in_flight} commands are in flight here, the most this process takes; retry after {RETRY_AFTER_S} s",
            retry_after=RETRY_AFTER_S,
            type=TEMPORARY_REDUCED_CAPACITY,
        )
        self._start = {"type": "http.response.start", "status": 503, "headers": refusal.raw_headers}
        self._body = {"type": "http.response.body", "body": refusal.body}
        self._shed = SHED.labels("commands_in_flight")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if request_class(scope) != COMMANDS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self._shed.inc()
            await send(self._start)
            await send(self._body)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
