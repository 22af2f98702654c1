"""Overload shedding: past the bound on commands in flight, a command is refused at once with 503 problem+json
and Retry-After, counted in /metrics; queries and operations are never shed; a freed slot takes the next one."""

import asyncio
import json
from typing import Any

from prometheus_client import REGISTRY

from infra.http.shedding import CommandShedding
from tests.unit.asgi_call import call


def _shed_count() -> float:
    return REGISTRY.get_sample_value("streamkeep_http_shed_total", {"reason": "commands_in_flight"}) or 0.0


class HeldApp:
    """A stub API whose commands stay in flight until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.entered += 1
        if scope["method"] == "POST" and scope["path"].startswith("/v1/"):
            await self.release.wait()
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def test_a_command_past_the_bound_is_refused_at_once_and_a_freed_slot_takes_the_next() -> None:
    async def scenario() -> None:
        inner = HeldApp()
        shedding = CommandShedding(inner, max_in_flight=2)
        held = [asyncio.create_task(call(shedding, "POST", "/v1/orders")) for _ in range(2)]
        while inner.entered < 2:
            await asyncio.sleep(0)
        shed_before = _shed_count()

        status, headers, body = await asyncio.wait_for(call(shedding, "POST", "/v1/orders"), 1)

        assert status == 503
        assert headers["content-type"] == "application/problem+json"
        assert int(headers["retry-after"]) >= 1
        problem = json.loads(body)
        assert problem["type"] == "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity"
        assert _shed_count() == shed_before + 1
        assert inner.entered == 2, "the refused command reached the app"

        inner.release.set()
        assert [status for status, _, _ in await asyncio.gather(*held)] == [201, 201]
        assert (await call(shedding, "POST", "/v1/orders"))[0] == 201
        assert shedding.in_flight == 0

    asyncio.run(scenario())


def test_queries_and_operations_pass_while_commands_are_at_the_bound() -> None:
    async def scenario() -> None:
        inner = HeldApp()
        shedding = CommandShedding(inner, max_in_flight=1)
        held = asyncio.create_task(call(shedding, "POST", "/v1/orders"))
        while inner.entered < 1:
            await asyncio.sleep(0)

        assert (await call(shedding, "GET", "/v1/orders/42"))[0] == 201
        assert (await call(shedding, "POST", "/metrics"))[0] != 503
        assert (await call(shedding, "POST", "/v1/orders"))[0] == 503

        inner.release.set()
        await held

    asyncio.run(scenario())


def test_a_command_that_fails_frees_its_slot() -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("the app failed")

    async def scenario() -> None:
        shedding = CommandShedding(failing, max_in_flight=1)
        for _ in range(3):
            try:
                await call(shedding, "POST", "/v1/orders")
            except RuntimeError:
                pass
        assert shedding.in_flight == 0

    asyncio.run(scenario())
