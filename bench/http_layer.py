"""CPU per request of the HTTP layer alone: the real app called in process, behind it a bus and a read model
that answer at once. `python -m bench.http_layer [--gap S]`; docs/benchmarks.md says what it showed."""

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import MutableMapping
from datetime import datetime, timezone
from typing import Any

from bench.commands import ORDER
from bench.processes import RATE_LIMITS_OFF
from commands.messages import Command, Envelope
from commands.outcomes import ACCEPTED, Outcome

NOW = datetime.now(timezone.utc)
ROW = {
    "order_id": uuid.uuid4(),
    "customer_id": uuid.uuid4(),
    "status": "placed",
    "currency": "EUR",
    "total_cents": 2500,
    "lines": ORDER["lines"],
    "version": 1,
    "placed_at": NOW,
    "updated_at": NOW,
}


class AnsweringBus:
    """Accepts every command at once: what is left is routing, validation, the envelope and the answer."""

    async def dispatch(self, command: Command, envelope: Envelope) -> Outcome:
        return Outcome(envelope.command_id, ACCEPTED, command.aggregate_id, 1, "orders.commands:0:1")


class AnsweringReadModels:
    async def order_summary(self, order_id: uuid.UUID) -> dict[str, Any]:
        return ROW


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }


async def _measure(method: str, requests: int, gap_s: float) -> float:
    """Mean CPU microseconds per request, counted around each request only (not the gaps)."""
    from infra.api import create_app
    from infra.settings import load_settings

    app = create_app(load_settings())
    app.state.command_bus = AnsweringBus()
    app.state.read_models = AnsweringReadModels()
    if method == "POST":
        body = json.dumps(ORDER).encode()
        length = str(len(body)).encode()
        scope = _scope("POST", "/v1/orders", [(b"content-type", b"application/json"), (b"content-length", length)])
        status = 201
    else:
        body, scope, status = b"", _scope("GET", f"/v1/orders/{uuid.uuid4()}", []), 200
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(300):  # warm-up
        await app(dict(scope, state={}), receive, send)
    spent = 0.0
    for _ in range(requests):
        if gap_s:
            time.sleep(gap_s)  # the process sleeps, as a server between requests under a light load
        started = time.process_time()
        await app(dict(scope, state={}), receive, send)
        spent += time.process_time() - started
    if set(statuses) != {status}:
        raise SystemExit(f"unexpected answers: {sorted(set(statuses))}")
    return spent / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--gap", type=float, default=0.0, help="seconds the process sleeps between requests")
    args = parser.parse_args()
    os.environ["STREAMKEEP_BACKEND"] = "embedded"  # nothing is connected: the app's lifespan never runs
    for name, value in RATE_LIMITS_OFF.items():  # thousands of requests a second from one client
        os.environ.setdefault(name, value)
    for method in ("POST", "GET"):
        micros = asyncio.run(_measure(method, args.requests, args.gap))
        print(f"{method} {micros:.0f} us CPU per request (gap {args.gap:g} s)")


if __name__ == "__main__":
    main()
