"""PostgreSQL read models: the tables, the query reads, and batches written with their checkpoints."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from types import ModuleType
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from infra.read_side.checkout import Reachability, checkout
from infra.read_side.point_reads import Fetch, PointReads
from infra.read_side.projection_writer import (
    Applied,
    PositionedEvent,
    Target,
    apply_batch,
    create_bookkeeping,
    create_tables,
    passed_positions,
)
from infra.read_side.waits import CONNECT_TIMEOUT_S, POOL_WAIT_S
from infra.resilience.breakers import Breaker, CircuitOpen
from infra.settings import BreakerSettings
from projections import inventory_levels, order_summary, saga_instances
from projections.catalogue import PROJECTIONS
from projections.ports import ReadModelUnavailable

SCHEMA_LOCK = 0x5EC0_0001  # advisory lock id: one process at a time creates the read-model tables
# A query waits this long for a pooled connection, not the pool's 10 s, when PostgreSQL accepts connections but the
# pool has none free; with PostgreSQL down it fails as soon as a direct connect is refused (checkout.py).
QUERY_CHECKOUT_S = 2.0

# Runs inside the batch's transaction, before it commits: dead letters must be out before their offsets pass.
BeforeCommit = Callable[[list[tuple[PositionedEvent, str]]], Awaitable[None]]


class PostgresReadModels:
    """Reads and writes the read models in PostgreSQL."""

    def __init__(self, database_url: str, breaker: BreakerSettings | None = None) -> None:
        # Queries go through the breaker: with PostgreSQL down they are answered 503 at once instead of each
        # waiting for the pool. Batches written by the projections do not: they retry on their own.
        self._breaker = Breaker("postgresql", breaker or BreakerSettings())
        # Autocommit: a query is one round trip (no BEGIN, no ROLLBACK on return to the pool); writes open
        # their own transaction with conn.transaction().
        self._pool = AsyncConnectionPool(
            database_url,
            min_size=1,
            max_size=8,
            open=False,
            timeout=POOL_WAIT_S,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
        )
        self._reachability = Reachability(database_url)
        self._orders = PointReads(self._rows_by_key(order_summary))
        self._stock = PointReads(self._rows_by_key(inventory_levels))

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=30)
        async with self._pool.connection() as conn, conn.transaction():
            # The API and the workers start together; concurrent CREATE ... IF NOT EXISTS can still collide.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            await create_bookkeeping(conn)
            for projection in PROJECTIONS.values():
                await create_tables(conn, Target.live(projection))

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def _query_connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection for a query, through the breaker; every failure a ReadModelUnavailable."""
        try:
            with self._breaker.calling():
                conn = await checkout(self._pool, self._reachability, QUERY_CHECKOUT_S)
                try:
                    async with conn:  # as the pool's own connection(): rolls back what an error left open
                        yield conn
                finally:
                    await self._pool.putconn(conn)
        except CircuitOpen as open_:
            raise ReadModelUnavailable(f"PostgreSQL keeps failing: {open_}", open_.retry_after_s) from None
        except Exception as error:
            raise ReadModelUnavailable(f"PostgreSQL did not answer: {error}") from error

    async def _all(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with self._query_connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(sql, params)
            return await cursor.fetchall()

    def _rows_by_key(self, projection: ModuleType) -> Fetch:
        """Reads a live read model's rows by its key column, many keys per query."""
        sql = f"SELECT * FROM {projection.NAME} WHERE {projection.KEY} = ANY(%s)"

        async def fetch(keys: list[Any]) -> dict[Any, Any]:
            return {row[projection.KEY]: row for row in await self._all(sql, (keys,))}

        return fetch

    async def order_summary(self, order_id: UUID) -> dict[str, Any] | None:
        row: dict[str, Any] | None = await self._orders.get(order_id)
        return row

    async def customer_orders(
        self, customer_id: UUID, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[dict[str, Any]]:
        if after is None:
            sql = "SELECT * FROM customer_orders WHERE customer_id = %s ORDER BY placed_at DESC, order_id DESC LIMIT %s"
            return await self._all(sql, (customer_id, limit))
        sql = (
            "SELECT * FROM customer_orders WHERE customer_id = %s AND (placed_at, order_id) < (%s, %s)"
            " ORDER BY placed_at DESC, order_id DESC LIMIT %s"
        )
        return await self._all(sql, (customer_id, *after, limit))

    async def inventory_level(self, item_id: UUID) -> dict[str, Any] | None:
        row: dict[str, Any] | None = await self._stock.get(item_id)
        return row

    async def all_rows(self, projection: str) -> list[dict[str, Any]]:
        model = PROJECTIONS[projection]
        columns = [column for column in model.COLUMNS if column != "history"]
        return await self._all(f"SELECT {', '.join(columns)} FROM {model.NAME}", ())

    async def saga_instance(self, saga_id: UUID) -> dict[str, Any] | None:
        rows = await self._all("SELECT * FROM saga_instances WHERE saga_id = %s", (saga_id,))
        return rows[0] if rows else None

    async def saga_instances(
        self, status: str | None, started_before: datetime | None, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[dict[str, Any]]:
        conditions, params = ["TRUE"], []
        if status is not None:
            conditions.append("status = %s")
            params.append(status)
        if started_before is not None:
            conditions.append("started_at < %s")
            params.append(started_before)
        if after is not None:
            conditions.append("(started_at, saga_id) < (%s, %s)")
            params.extend(after)
        sql = (
            f"SELECT {', '.join(saga_instances.LISTED_COLUMNS)} FROM saga_instances"
            f" WHERE {' AND '.join(conditions)} ORDER BY started_at DESC, saga_id DESC LIMIT %s"
        )
        return await self._all(sql, (*params, limit))

    async def checkpoints(self, projection: str) -> dict[tuple[str, int], int]:
        async with self._query_connection() as conn:
            return await passed_positions(conn, projection)

    async def apply_batch(
        self, targets: Sequence[Target], batch: Sequence[PositionedEvent], before_commit: BeforeCommit | None = None
    ) -> dict[str, Applied]:
        """Apply the batch to every target, and move their checkpoints, in one transaction."""
        async with self._pool.connection() as conn, conn.transaction():
            results = {target.checkpoint: await apply_batch(conn, target, batch) for target in targets}
            failures = [failure for applied in results.values() for failure in applied.failures]
            if failures and before_commit is not None:
                await before_commit(failures)
        return results
