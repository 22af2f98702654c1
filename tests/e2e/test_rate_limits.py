"""Rate limits on a real `streamkeep run`: N+k requests in a window give exactly k 429s with Retry-After, commands
and queries on separate budgets, each client address its own, and with authentication on each principal its own."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.security.api_tokens import entry, issue
from tests.conftest import ORDER
from tests.platform import StreamkeepProcess, free_port, wait_ready

COMMANDS_PER_MINUTE, QUERIES_PER_MINUTE = 5, 7
# A window of a minute, long enough that every request of a test falls in its first one, on a slow machine too.
LIMITS = {
    "STREAMKEEP_RATE_LIMIT_COMMANDS": f"{COMMANDS_PER_MINUTE}/minute",
    "STREAMKEEP_RATE_LIMIT_QUERIES": f"{QUERIES_PER_MINUTE}/minute",
}


def _run_limited(tmp_path_factory: pytest.TempPathFactory, **settings: str) -> Iterator[str]:
    workdir: Path = tmp_path_factory.mktemp("rate-limits")
    port = free_port()
    env = {"STREAMKEEP_BACKEND": "embedded", "KAFKA_BOOTSTRAP_SERVERS": "", **LIMITS, **settings}
    env["STREAMKEEP_DATA_DIR"] = str(workdir / "data")
    run = StreamkeepProcess(["run", "--port", str(port)], env, workdir / "run.log").start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, timeout_s=30)
        yield base_url
    finally:
        run.stop()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamkeep run` with low limits. Each test calls from its own loopback address, so from its own budget."""
    yield from _run_limited(tmp_path_factory)


@pytest.fixture(scope="module")
def two_writers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The same with authentication on: two writers' tokens, as `streamkeep tokens issue` makes them."""
    tokens = {name: issue() for name in ("alice", "bob")}
    admitted = ",".join(entry(name, "writer", token) for name, token in tokens.items())
    for base_url in _run_limited(tmp_path_factory, STREAMKEEP_NO_AUTH="false", STREAMKEEP_API_TOKENS=admitted):
        yield base_url, tokens


def _client(base_url: str, address: str, token: str | None = None) -> httpx.Client:
    """A client whose connections leave from `address` (any 127.x.y.z reaches the server on 127.0.0.1)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, timeout=10, transport=transport, headers=headers)


def _place(client: httpx.Client, count: int) -> list[httpx.Response]:
    return [client.post("/v1/orders", json=ORDER) for _ in range(count)]


def _refusals_counted(base_url: str, policy: str) -> float:
    """streamkeep_http_rate_limited_total{policy} as /metrics shows it."""
    prefix = f'streamkeep_http_rate_limited_total{{policy="{policy}"}} '
    lines = httpx.get(f"{base_url}/metrics", timeout=10).text.splitlines()
    return sum(float(line.removeprefix(prefix)) for line in lines if line.startswith(prefix))


def test_n_plus_k_commands_in_a_window_give_exactly_k_429s_with_retry_after(limited: str) -> None:
    extra = 3
    counted_before = _refusals_counted(limited, "commands")
    with _client(limited, "127.0.0.2") as client:
        answers = _place(client, COMMANDS_PER_MINUTE + extra)

    assert [a.status_code for a in answers] == [201] * COMMANDS_PER_MINUTE + [429] * extra
    for refused in answers[COMMANDS_PER_MINUTE:]:
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["violated-policies"] == ["commands"]
        assert refused.headers["ratelimit"] == f'"commands";r=0;t={refused.headers["retry-after"]}'
    # Successful answers carry the fields too: the policy, and what is left of it.
    assert {a.headers["ratelimit-policy"] for a in answers} == {f'"commands";q={COMMANDS_PER_MINUTE};w=60'}
    remaining = [int(a.headers["ratelimit"].split(";r=")[1].split(";")[0]) for a in answers]
    assert remaining == [4, 3, 2, 1, 0, 0, 0, 0]
    assert _refusals_counted(limited, "commands") == counted_before + extra


def test_queries_have_a_budget_of_their_own(limited: str) -> None:
    with _client(limited, "127.0.0.3") as client:
        order_id = _place(client, COMMANDS_PER_MINUTE)[0].json()["order_id"]
        assert client.post("/v1/orders", json=ORDER).status_code == 429  # the commands' budget is spent

        reads = [client.get(f"/v1/orders/{order_id}") for _ in range(QUERIES_PER_MINUTE + 2)]

    assert [r.status_code for r in reads] == [200] * QUERIES_PER_MINUTE + [429, 429]
    assert reads[0].headers["ratelimit-policy"] == f'"queries";q={QUERIES_PER_MINUTE};w=60'
    assert int(reads[-1].headers["retry-after"]) >= 1


def test_each_client_address_has_its_own_budget(limited: str) -> None:
    with _client(limited, "127.0.0.4") as first, _client(limited, "127.0.0.5") as second:
        spent = _place(first, COMMANDS_PER_MINUTE + 1)
        fresh = _place(second, 1)

    assert spent[-1].status_code == 429
    assert fresh[0].status_code == 201


def test_operational_routes_are_not_limited(limited: str) -> None:
    with _client(limited, "127.0.0.6") as client:
        answers = [client.get(path) for path in ("/livez", "/readyz", "/metrics", "/openapi.json") * 3]

    assert {a.status_code for a in answers} == {200}
    assert not any("ratelimit" in a.headers for a in answers)


def test_two_principals_from_one_address_have_a_budget_each(two_writers: tuple[str, dict[str, str]]) -> None:
    base_url, tokens = two_writers
    with _client(base_url, "127.0.0.7", tokens["alice"]) as alice, _client(base_url, "127.0.0.7", tokens["bob"]) as bob:
        alices = _place(alice, COMMANDS_PER_MINUTE + 1)
        bobs = _place(bob, COMMANDS_PER_MINUTE + 1)

    assert [a.status_code for a in alices] == [201] * COMMANDS_PER_MINUTE + [429]
    assert [a.status_code for a in bobs] == [201] * COMMANDS_PER_MINUTE + [429]
