"""PostgreSQL read models: batched row writes committed with their (topic, partition, offset) checkpoint."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from projections import order_summary
from projections.ports import ReadModelUnavailable

SCHEMA_LOCK = 0x5EC0_0001  # advisory lock id: one process at a time creates the read-model tables

CREATE_CHECKPOINTS = """
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projection  text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint  NOT NULL,
    PRIMARY KEY (projection, topic, partition)
)
"""

SAVE_CHECKPOINT = """
INSERT INTO projection_checkpoints (projection, topic, partition, "offset") VALUES (%s, %s, %s, %s)
ON CONFLICT (projection, topic, partition) DO UPDATE SET "offset" = EXCLUDED."offset"
"""


@dataclass(frozen=True)
class PositionedEvent:
    """A domain event and where it sits in Kafka."""

    topic: str
    partition: int
    offset: int
    event: Any


class PostgresReadModels:
    """Reads and writes the read models in PostgreSQL."""

    def __init__(self, database_url: str) -> None:
        self._pool = AsyncConnectionPool(database_url, min_size=1, max_size=8, open=False, kwargs={"autocommit": False})

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=30)
        async with self._pool.connection() as conn, conn.transaction():
            # The API and the workers start together; concurrent CREATE ... IF NOT EXISTS can still collide.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            await conn.execute(CREATE_CHECKPOINTS)
            await conn.execute(order_summary.CREATE_TABLE)

    async def close(self) -> None:
        await self._pool.close()

    async def order_summary(self, order_id: UUID) -> dict[str, Any] | None:
        try:
            async with self._pool.connection() as conn:
                cursor = conn.cursor(row_factory=dict_row)
                await cursor.execute("SELECT * FROM order_summary WHERE order_id = %s", (order_id,))
                return await cursor.fetchone()
        except Exception as error:
            raise ReadModelUnavailable(f"PostgreSQL did not answer: {error}") from error

    async def apply_batch(self, batch: Sequence[PositionedEvent]) -> int:
        """Apply the events past the checkpoint and move it, in one transaction; returns how many were applied."""
        name = order_summary.NAME
        async with self._pool.connection() as conn, conn.transaction():
            cursor = conn.cursor()
            await cursor.execute(
                'SELECT topic, partition, "offset" FROM projection_checkpoints WHERE projection = %s FOR UPDATE',
                (name,),
            )
            done = {(topic, partition): offset for topic, partition, offset in await cursor.fetchall()}
            fresh = [p for p in batch if p.offset > done.get((p.topic, p.partition), -1)]
            rows = await self._current_rows(conn, {p.event.originator_id for p in fresh})
            for positioned in fresh:
                key = positioned.event.originator_id
                row = order_summary.apply(rows.get(key), positioned.event)
                if row is not None:
                    rows[key] = row
            changed = [rows[k] for k in {p.event.originator_id for p in fresh} if k in rows]
            if changed:
                await cursor.executemany(
                    order_summary.UPSERT, [{**row, "lines": Jsonb(row["lines"])} for row in changed]
                )
            ends: dict[tuple[str, int], int] = {}
            for positioned in fresh:
                ends[(positioned.topic, positioned.partition)] = positioned.offset
            await cursor.executemany(SAVE_CHECKPOINT, [(name, t, p, o) for (t, p), o in ends.items()])
        return len(fresh)

    async def _current_rows(self, conn: Any, order_ids: set[UUID]) -> dict[UUID, dict[str, Any]]:
        if not order_ids:
            return {}
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute("SELECT * FROM order_summary WHERE order_id = ANY(%s)", (list(order_ids),))
        return {row["order_id"]: row for row in await cursor.fetchall()}

    async def checkpoints(self) -> dict[tuple[str, int], int]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                'SELECT topic, partition, "offset" FROM projection_checkpoints WHERE projection = %s',
                (order_summary.NAME,),
            )
            return {(t, p): o for t, p, o in await cursor.fetchall()}
