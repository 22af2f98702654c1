"""A query's checkout against real PostgreSQL: with nothing listening it fails as soon as a connect is refused,
not after the pool's timeout; with PostgreSQL up and the pool busy, it waits for the connection to come free."""

import asyncio
import time

import pytest
from psycopg_pool import AsyncConnectionPool

from infra.read_side.checkout import Reachability, checkout
from tests.platform import free_port

pytestmark = pytest.mark.kafka
TIMEOUT_S = 2.0


def test_a_checkout_fails_at_once_when_postgresql_refuses_connections() -> None:
    async def attempt() -> tuple[Exception, float]:
        url = f"postgresql://streamkeep@127.0.0.1:{free_port()}/streamkeep"  # nothing listens there
        async with AsyncConnectionPool(url, min_size=1, max_size=2, open=False) as pool:
            await pool.open(wait=False)
            started = time.monotonic()
            try:
                await checkout(pool, Reachability(url), TIMEOUT_S)
            except Exception as error:  # what a query would turn into a 503
                return error, time.monotonic() - started
            raise AssertionError("a checkout with nothing listening returned a connection")

    error, took_s = asyncio.run(attempt())
    assert "refused" in str(error).lower() or "connection" in str(error).lower(), error
    assert took_s < TIMEOUT_S / 4, f"waited {took_s:.3f} s, as if for the pool's timeout"


def test_a_busy_pool_is_waited_for_while_postgresql_accepts(infra_env: dict[str, str]) -> None:
    url = infra_env["DATABASE_URL"]

    async def wait_for_the_busy_one() -> tuple[int, float]:
        async with AsyncConnectionPool(url, min_size=1, max_size=1, open=False) as pool:
            await pool.open(wait=True, timeout=30)
            held = await pool.getconn()
            asyncio.get_running_loop().call_later(0.3, lambda: asyncio.ensure_future(pool.putconn(held)))
            started = time.monotonic()
            connection = await checkout(pool, Reachability(url), TIMEOUT_S)
            took_s = time.monotonic() - started
            try:
                row = await (await connection.execute("SELECT 1")).fetchone()
            finally:
                await pool.putconn(connection)
            assert row is not None
            return row[0], took_s

    answer, took_s = asyncio.run(wait_for_the_busy_one())
    assert answer == 1
    assert 0.25 <= took_s < TIMEOUT_S, took_s
