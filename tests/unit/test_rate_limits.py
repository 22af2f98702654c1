"""Rate limits on /v1: per principal, else per client address; commands and queries on separate budgets; 429
problem+json with Retry-After past them; the draft's RateLimit fields on every limited answer."""

import asyncio
import json
from typing import Any

from limits import parse

from infra.http.principal import Principal
from infra.http.rate_limits import Policy, RateLimits
from tests.unit.asgi_call import Answer, call

ALICE, BOB = Principal("alice", "writer"), Principal("bob", "writer")


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


def _limits(commands: str = "3/minute", queries: str = "5/minute") -> RateLimits:
    policies = {"commands": Policy("commands", parse(commands)), "queries": Policy("queries", parse(queries))}
    return RateLimits(_inner, policies)


def _statuses(limits: RateLimits, count: int, method: str = "POST", **who: Any) -> list[int]:
    async def calls() -> list[int]:
        return [(await call(limits, method, "/v1/orders", **who))[0] for _ in range(count)]

    return asyncio.run(calls())


def test_the_requests_past_the_limit_are_refused_with_429_and_retry_after() -> None:
    limits = _limits(commands="3/minute")

    async def calls() -> list[Answer]:
        return [await call(limits, "POST", "/v1/orders") for _ in range(5)]

    answers = asyncio.run(calls())

    assert [status for status, _, _ in answers] == [200, 200, 200, 429, 429]
    status, headers, body = answers[3]
    assert headers["content-type"] == "application/problem+json"
    assert 1 <= int(headers["retry-after"]) <= 60
    problem = json.loads(body)
    assert problem["status"] == 429
    assert problem["type"] == "https://iana.org/assignments/http-problem-types#quota-exceeded"
    assert problem["violated-policies"] == ["commands"]


def test_every_limited_answer_carries_the_policy_and_what_is_left_of_it() -> None:
    limits = _limits(commands="3/minute")

    async def calls() -> list[dict[str, str]]:
        return [(await call(limits, "POST", "/v1/orders"))[1] for _ in range(4)]

    headers = asyncio.run(calls())

    assert {h["ratelimit-policy"] for h in headers} == {'"commands";q=3;w=60'}
    assert [h["ratelimit"].split(";t=")[0] for h in headers] == [
        '"commands";r=2',
        '"commands";r=1',
        '"commands";r=0',
        '"commands";r=0',
    ]
    # The refusal's RateLimit names the same moment as its Retry-After, as the draft asks.
    assert headers[3]["ratelimit"].endswith(f";t={headers[3]['retry-after']}")


def test_commands_and_queries_draw_on_separate_budgets() -> None:
    limits = _limits(commands="2/minute", queries="3/minute")

    assert _statuses(limits, 3, "POST") == [200, 200, 429]
    assert _statuses(limits, 4, "GET") == [200, 200, 200, 429]


def test_two_principals_have_a_budget_each_even_from_one_address() -> None:
    limits = _limits(commands="2/minute")

    assert _statuses(limits, 3, principal=ALICE) == [200, 200, 429]
    assert _statuses(limits, 3, principal=BOB) == [200, 200, 429]


def test_a_principal_keeps_its_budget_whatever_address_it_calls_from() -> None:
    limits = _limits(commands="2/minute")

    assert _statuses(limits, 1, principal=ALICE, address="10.0.0.1") == [200]
    assert _statuses(limits, 2, principal=ALICE, address="10.0.0.2") == [200, 429]


def test_anonymous_clients_are_told_apart_by_address() -> None:
    limits = _limits(commands="2/minute")

    assert _statuses(limits, 3, address="10.0.0.1") == [200, 200, 429]
    assert _statuses(limits, 3, address="10.0.0.2") == [200, 200, 429]
    # An authenticated caller from a throttled address has its own budget.
    assert _statuses(limits, 1, principal=ALICE, address="10.0.0.1") == [200]


def test_operational_routes_are_never_limited_nor_marked() -> None:
    limits = _limits(queries="1/minute")

    async def calls() -> list[Answer]:
        return [await call(limits, "GET", path) for path in ["/livez", "/readyz", "/metrics", "/docs"] * 3]

    answers = asyncio.run(calls())

    assert {status for status, _, _ in answers} == {200}
    assert not any("ratelimit" in headers for _, headers, _ in answers)


def test_a_class_switched_off_is_not_limited() -> None:
    limits = RateLimits(_inner, {"queries": Policy("queries", parse("1/minute"))})

    assert _statuses(limits, 5, "POST") == [200] * 5
    assert _statuses(limits, 2, "GET") == [200, 429]
