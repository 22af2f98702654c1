"""Request rates per principal (per client address when anonymous), commands and queries apart: 429 past them.

The counting is the `limits` library's fixed window (it starts at a partition's first request): 10 us a request
here, where its moving window cost 40 us (its in-memory storage expires entries through a thread hop).
"""

import time
from dataclasses import dataclass
from math import ceil
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from infra.http.principal import principal_of
from infra.http.problems import problem
from infra.http.request_class import COMMANDS, QUERIES, request_class
from infra.observability.metrics import RATE_LIMITED
from infra.settings import Settings, SettingsError

# The problem type draft-ietf-httpapi-ratelimit-headers-11 (section 5.1) registers for a quota exceeded.
QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"


@dataclass(frozen=True)
class Policy:
    """One quota: its name in the RateLimit fields and its limit."""

    name: str
    limit: RateLimitItem

    def policy_field(self) -> bytes:
        # draft-ietf-httpapi-ratelimit-headers-11, section 3: a List of Items, each a String naming the policy with
        # its quota `q` and window `w` in whole seconds, e.g. `"commands";q=200;w=1`.
        return f'"{self.name}";q={self.limit.amount};w={self.limit.get_expiry()}'.encode()

    def limit_field(self, remaining: int, reset_s: int) -> bytes:
        # Section 4: the available quota `r` and the seconds `t` until it is restored, e.g. `"commands";r=17;t=1`.
        return f'"{self.name}";r={remaining};t={reset_s}'.encode()


class RateLimits:
    """ASGI middleware, run inside authentication: the principal it finds in the scope is the partition key."""

    def __init__(self, app: Any, policies: dict[str, Policy], storage_uri: str = "memory://") -> None:
        self.app = app
        self.policies = policies
        self.limiter = FixedWindowRateLimiter(storage_from_string(f"async+{storage_uri}"))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        policy = self.policies.get(request_class(scope) or "")
        if policy is None:
            await self.app(scope, receive, send)
            return
        key = partition_key(scope)
        allowed = await self.limiter.hit(policy.limit, policy.name, key)
        window = await self.limiter.get_window_stats(policy.limit, policy.name, key)
        # At least 1: a window whose end is under a second away still has to be waited for.
        reset_s = max(ceil(window.reset_time - time.time()), 1)
        fields = [
            (b"ratelimit-policy", policy.policy_field()),
            (b"ratelimit", policy.limit_field(window.remaining, reset_s)),
        ]
        if not allowed:
            RATE_LIMITED.labels(policy.name).inc()
            refusal = problem(
                429,
                "Too many requests",
                f"more than {policy.limit.amount} {policy.name} in {policy.limit.get_expiry()} s from this client; "
                f"retry after {reset_s} s",
                retry_after=reset_s,
                type=QUOTA_EXCEEDED,
                **{"violated-policies": [policy.name]},
            )
            refusal.raw_headers.extend(fields)
            await refusal(scope, receive, send)
            return

        async def with_fields(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *fields]}
            await send(message)

        await self.app(scope, receive, with_fields)


def partition_key(scope: dict[str, Any]) -> str:
    """Whose budget a request draws on: its principal's, or its client address's when it has none."""
    principal = principal_of(scope)
    if principal is not None:
        return f"principal:{principal.name}"
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


def policies_of(settings: Settings) -> dict[str, Policy]:
    """The quotas the settings switch on (an `off` one is absent)."""
    rates = {COMMANDS: settings.rate_limit_commands, QUERIES: settings.rate_limit_queries}
    return {name: Policy(name, parse(rate)) for name, rate in rates.items() if rate is not None}


def check_storage(settings: Settings) -> None:
    """Fail at start-up in one line when the storage's client library is missing (e.g. redis:// without redis)."""
    try:
        storage_from_string(f"async+{settings.rate_limit_storage}")
    except ConfigurationError as error:
        raise SettingsError(f"STREAMKEEP_RATE_LIMIT_STORAGE={settings.rate_limit_storage}: {error}") from error
