"""A pooled connection for a query that does not wait out the pool's timeout when PostgreSQL is not there."""

import asyncio
import time
from contextlib import suppress

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from infra.read_side.waits import CONNECT_TIMEOUT_S

# A healthy pool hands a connection over in well under a millisecond, or a few when all are busy. A checkout
# slower than this asks PostgreSQL directly whether it is there: with it down, the pool only retries its
# connects in the background (backing off by seconds), and every query would otherwise wait its whole timeout.
SLOW_CHECKOUT_S = 0.02
# Once PostgreSQL has been seen to accept, a busy pool is just busy: it is not asked again for this long.
REACHABLE_FOR_S = 1.0


class Reachability:
    """Whether PostgreSQL accepts a connection now: asked once for every query waiting at that moment."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._asking: asyncio.Future[None] | None = None
        self._accepted_at = -REACHABLE_FOR_S

    async def confirm(self) -> None:
        """Returns when PostgreSQL accepts a connection; raises the connect's error when it refuses."""
        if time.monotonic() - self._accepted_at < REACHABLE_FOR_S:
            return
        if self._asking is None or self._asking.done():
            self._asking = asyncio.ensure_future(self._ask())
            # Its refusal is raised to every waiter; retrieved here too, for when they have all given up.
            self._asking.add_done_callback(lambda asked: asked.cancelled() or asked.exception())
        # Shielded: one waiter giving up must not cancel the question the others wait on.
        await asyncio.shield(self._asking)

    async def _ask(self) -> None:
        connection = await AsyncConnection.connect(self._database_url, connect_timeout=CONNECT_TIMEOUT_S)
        await connection.close()
        self._accepted_at = time.monotonic()


async def checkout(pool: AsyncConnectionPool, reachability: Reachability, timeout_s: float) -> AsyncConnection:
    """A connection from the pool within timeout_s; raises at once if, while it waits, PostgreSQL refuses."""
    getting = asyncio.ensure_future(pool.getconn(timeout_s))
    try:
        done, _ = await asyncio.wait({getting}, timeout=SLOW_CHECKOUT_S)
        if not done:
            asking = asyncio.ensure_future(reachability.confirm())
            done, _ = await asyncio.wait({getting, asking}, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                # PostgreSQL answered the question before the pool answered the query: raise its refusal, or
                # go on waiting for a pool that is only busy.
                asking.result()
            elif not asking.done():
                asking.cancel()
            elif not asking.cancelled():
                asking.exception()  # the pool answered first: its answer stands, whatever PostgreSQL said
        return await getting
    except BaseException:
        await _give_back(pool, getting)
        raise


async def _give_back(pool: AsyncConnectionPool, getting: asyncio.Future[AsyncConnection]) -> None:
    """The checkout abandoned: stop waiting, and return the connection if the pool handed one over meanwhile."""
    getting.cancel()
    with suppress(BaseException):
        await asyncio.wait({getting})
    if getting.done() and not getting.cancelled() and getting.exception() is None:
        await pool.putconn(getting.result())
