"""Rebuilds a read model from the first event: blue/green beside the live tables with an atomic swap, or in place.

Blue/green: rows go to `<name>__next` with their own checkpoint, batch by batch (a killed rebuild resumes from
it). At the head, one transaction locks the live checkpoint (the worker waits), brings `__next` to exactly the
live position (and, for a diff, a live table that lags the rebuild to the rebuild's), optionally diffs the two,
and renames `__next` over the live table; the old one is dropped after.
"""

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

import stamina
from confluent_kafka import Message
from psycopg import AsyncConnection, errors

from infra.avro.codec import AvroCodec, reading_codec
from infra.avro.views import event_view
from infra.kafka.event_headers import command_offset_of
from infra.kafka.event_stream import Window, batches, end_offsets, offsets_between
from infra.read_side.projection_runner import decode_event
from infra.read_side.projection_writer import (
    PositionedEvent,
    Target,
    apply_batch,
    checkpoints,
    create_bookkeeping,
    create_tables,
    lock_checkpoint,
)
from infra.read_side.rebuild_shares import ShareJob, build_shares, shares_for
from infra.read_side.waits import CONNECT_TIMEOUT_S

REBUILD_LOCK = 0x5EC0_0002  # advisory lock class: one rebuild per projection at a time
BATCH = 5000
SWAP_ATTEMPTS = 3

MOVE_CHECKPOINT_ON = """
INSERT INTO projection_checkpoints AS c (projection, topic, partition, "offset", command_offset)
SELECT %(live)s, topic, partition, "offset", command_offset FROM projection_checkpoints WHERE projection = %(rebuilt)s
ON CONFLICT (projection, topic, partition) DO UPDATE SET "offset" = GREATEST(c."offset", EXCLUDED."offset"),
    command_offset = GREATEST(c.command_offset, EXCLUDED.command_offset)
"""

Progress = Callable[[int, int], None]  # (events done, events in total)


class RebuildRefused(Exception):
    """The rebuild cannot start (another is running, or the projection is unknown)."""


@dataclass
class RebuildResult:
    projection: str
    events: int
    wall_s: float
    mode: str
    rows_differ: int | None = None
    processes: int = 1
    differing_keys: list[str] | None = None

    def as_json(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "projection": self.projection,
            "events": self.events,
            "wall_s": round(self.wall_s, 3),
            "mode": self.mode,
            "processes": self.processes,
        }
        if self.rows_differ is not None:
            summary["rows_differ"] = self.rows_differ
        return summary


class Rebuild:
    """One rebuild of one projection, holding the projection's rebuild lock on its own connection."""

    def __init__(
        self,
        bootstrap: str,
        database_url: str,
        codec: AvroCodec,
        projection: ModuleType,
        batch: int = BATCH,
        registry: tuple[str, Path] | None = None,
        jobs: int | None = None,
    ) -> None:
        self._batch = batch
        # Where share processes read writer schemas (registry URL, schemas folder; None: this process builds all
        # of `__next`), and how many shares (None: the rebuild's choice).
        self._registry = registry
        self._jobs = jobs
        self._bootstrap = bootstrap
        self._database_url = database_url
        self._codec = codec.viewed(event_view)
        self._projection = projection
        self._topic = f"{projection.CONTEXT}.events"
        self._live = Target.live(projection)
        # Only a rebuild (holding REBUILD_LOCK) writes `__next`: its new rows can be copied straight in.
        self._next = Target(projection, f"{projection.NAME}__next", f"{projection.NAME}__next", exclusive=True)

    async def run(self, in_place: bool, diff: bool, progress: Progress) -> RebuildResult:
        started = time.monotonic()
        async with await self._connect(autocommit=True) as lock:
            got = await (
                await lock.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (REBUILD_LOCK, self._projection.NAME)
                )
            ).fetchone()
            if not got or not got[0]:
                raise RebuildRefused(f"a rebuild of {self._projection.NAME} is already running")
            async with await self._connect() as conn:
                await self._create(conn)
                if in_place:
                    events = await self._in_place(conn, progress)
                    return RebuildResult(self._projection.NAME, events, time.monotonic() - started, "in-place")
                result = RebuildResult(self._projection.NAME, 0, 0.0, "blue-green")
                result.events = await self._build_next(conn, progress, result)
                await self._analyze_next(conn)
                result.events += await self._swap_retrying(conn, diff, result)
                await conn.execute(f"DROP TABLE IF EXISTS {self._projection.NAME}__old")
                await conn.commit()
        result.wall_s = time.monotonic() - started
        return result

    async def _connect(self, autocommit: bool = False) -> AsyncConnection[Any]:
        url, timeout = self._database_url, CONNECT_TIMEOUT_S
        return await AsyncConnection.connect(url, autocommit=autocommit, connect_timeout=timeout)

    async def _create(self, conn: AsyncConnection[Any]) -> None:
        await create_bookkeeping(conn)
        await create_tables(conn, self._live)
        await create_tables(conn, self._next)
        # Autovacuum on the table being built can deadlock with the swap's rename (seen: VACUUM ANALYZE of
        # `__next` waiting on the swap's transaction while the rename waited on it); the rebuild analyzes it.
        await conn.execute(f"ALTER TABLE {self._next.table} SET (autovacuum_enabled = false)")
        await conn.commit()

    async def _analyze_next(self, conn: AsyncConnection[Any]) -> None:
        """Statistics for the rebuilt table before it goes live, so the first queries get good plans."""
        await conn.set_autocommit(True)
        try:
            await conn.execute(f"ANALYZE {self._next.table}")
        finally:
            await conn.set_autocommit(False)

    @stamina.retry(on=errors.DeadlockDetected, attempts=SWAP_ATTEMPTS, timeout=None, wait_initial=0.5, wait_jitter=0.5)
    async def _swap_retrying(self, conn: AsyncConnection[Any], diff: bool, result: RebuildResult) -> int:
        """The swap is one transaction: when PostgreSQL breaks a deadlock by cancelling it, it is rolled back and
        run again (any other error ends the rebuild; `__next` and its checkpoint stay for the next one)."""
        try:
            return await self._swap(conn, diff, result)
        except errors.DeadlockDetected:
            await conn.rollback()
            raise

    async def _build_next(self, conn: AsyncConnection[Any], progress: Progress, result: RebuildResult) -> int:
        """Apply everything up to today's end into `__next`, resuming from its checkpoint, a transaction a batch:
        in this process, or in one process per share of the partitions when the rows allow it."""
        starts = {p: o + 1 for p, o in (await self._positions(conn, self._next)).items()}
        await conn.commit()
        ends = end_offsets(self._bootstrap, self._topic)
        shares = shares_for(self._projection, starts, ends, self._jobs) if self._registry else []
        if self._registry is None or len(shares) == 1:
            return await self._apply_range(conn, self._next, starts, ends, progress, commit=True)
        result.processes = len(shares)
        job = ShareJob(self._bootstrap, self._database_url, *self._registry, self._projection.NAME, self._batch)
        # Started from this (the main) thread on purpose: Linux ends the shares when the thread that started
        # them dies, and the loop has nothing else to do meanwhile.
        return build_shares(job, _build_share, shares, starts, ends, progress)

    async def build_share(self, starts: dict[int, int], ends: dict[int, int], progress: Progress) -> int:
        """In a share process: build the partitions in `ends` into `__next`, on a connection of its own."""
        async with await self._connect() as conn:
            return await self._apply_range(conn, self._next, starts, ends, progress, commit=True)

    async def _apply_range(
        self,
        conn: AsyncConnection[Any],
        target: Target,
        starts: dict[int, int],
        ends: dict[int, int],
        progress: Progress,
        commit: bool,
    ) -> int:
        total = offsets_between(starts, ends)
        window = Window(starts=starts, ends=ends)
        messages = batches(self._bootstrap, self._topic, window)
        applied = 0
        # One batch after another, decoding in this thread: a decode thread overlapping PostgreSQL's writes cost
        # more in hand-offs of the GIL than the overlap saved (2 shares, 1.33M events: 46.0 s -> 41.4 s serial).
        while batch := _take(messages, self._codec, self._batch):
            await apply_batch(conn, target, batch)
            if commit:
                await conn.commit()
            applied += len(batch)
            progress(applied, max(total, applied))
        progress(applied, applied)
        return applied

    async def _swap(self, conn: AsyncConnection[Any], diff: bool, result: RebuildResult) -> int:
        """One transaction: hold the live checkpoint, bring `__next` to the live position, diff, rename; returns
        the events topped up."""
        await lock_checkpoint(conn, self._live.checkpoint)
        live = await self._positions(conn, self._live)
        rebuilt = await self._positions(conn, self._next)
        topped = await self._top_up(conn, self._next, rebuilt, live)
        if diff:
            # A live projection behind the rebuild (its worker slow, restarting or stopped) is brought to the same
            # position through the same apply its worker would use, so the two are compared at one position.
            await self._top_up(conn, self._live, live, rebuilt)
            result.rows_differ, result.differing_keys = await self._diff(conn)
        await self._rename(conn)
        await conn.commit()
        return topped

    async def _positions(self, conn: AsyncConnection[Any], target: Target) -> dict[int, int]:
        return {p: o for (t, p), o in (await checkpoints(conn, target.checkpoint)).items() if t == self._topic}

    async def _top_up(
        self, conn: AsyncConnection[Any], target: Target, have: dict[int, int], want: dict[int, int]
    ) -> int:
        """Apply to `target`, in the open transaction, the events between its positions and the wanted ones."""
        behind = {p: have.get(p, -1) + 1 for p, o in want.items() if o > have.get(p, -1)}
        if not behind:
            return 0
        ends = {p: want[p] + 1 for p in behind}
        return await self._apply_range(conn, target, behind, ends, lambda *_: None, commit=False)

    async def _diff(self, conn: AsyncConnection[Any]) -> tuple[int, list[str]]:
        key, live, rebuilt = self._projection.KEY, self._live.table, self._next.table
        cursor = await conn.execute(
            f"SELECT COALESCE(l.{key}, n.{key})::text FROM {live} l FULL JOIN {rebuilt} n ON l.{key} = n.{key}"
            f" WHERE ROW(l.*) IS DISTINCT FROM ROW(n.*) ORDER BY 1"
        )
        keys = [k for (k,) in await cursor.fetchall()]
        return len(keys), keys[:20]

    async def _rename(self, conn: AsyncConnection[Any]) -> None:
        name, old, rebuilt_table = self._projection.NAME, f"{self._projection.NAME}__old", self._next.table
        await conn.execute(f"DROP TABLE IF EXISTS {old}")
        await _rename_indexes(conn, name, old)
        await conn.execute(f"ALTER TABLE {name} RENAME TO {old}")
        await _rename_indexes(conn, rebuilt_table, name)
        await conn.execute(f"ALTER TABLE {rebuilt_table} RENAME TO {name}")
        await conn.execute(f"ALTER TABLE {name} RESET (autovacuum_enabled)")
        # Equal positions leave the live checkpoint as it is; a rebuild ahead of a stopped worker moves it on.
        await conn.execute(MOVE_CHECKPOINT_ON, {"live": name, "rebuilt": self._next.checkpoint})
        await conn.execute("DELETE FROM projection_checkpoints WHERE projection = %s", (self._next.checkpoint,))
        await conn.execute("DELETE FROM projection_status WHERE projection = %s", (self._next.checkpoint,))

    async def _in_place(self, conn: AsyncConnection[Any], progress: Progress) -> int:
        """One transaction: hold the live checkpoint, empty the table, apply everything, commit (readers see the old
        rows until then; the worker waits)."""
        await lock_checkpoint(conn, self._live.checkpoint)
        await conn.execute(f"DELETE FROM {self._live.table}")
        await conn.execute(
            'UPDATE projection_checkpoints SET "offset" = -1 WHERE projection = %s', (self._live.checkpoint,)
        )
        events = await self._apply_range(
            conn, self._live, {}, end_offsets(self._bootstrap, self._topic), progress, commit=False
        )
        await conn.commit()
        return events


async def _rename_indexes(conn: AsyncConnection[Any], table: str, new_prefix: str) -> None:
    """Indexes are named after their table; renamed with it, the next rebuild can reuse the names."""
    cursor = await conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s", (table,)
    )
    for (index,) in await cursor.fetchall():
        if index.startswith(table):
            await conn.execute(f"ALTER INDEX {index} RENAME TO {new_prefix}{index[len(table) :]}")


def _take(polls: Iterator[list[Message]], codec: AvroCodec, size: int) -> list[PositionedEvent]:
    """The next `size` or so events (whole polls), decoded; empty at the window's end."""
    batch: list[PositionedEvent] = []
    for poll in polls:
        batch.extend(
            decode_event(codec, m.topic(), m.partition(), m.offset(), m.value(), command_offset_of(m.headers()))
            for m in poll
        )
        if len(batch) >= size:
            break
    return batch


def _build_share(job: ShareJob, ends: dict[int, int], starts: dict[int, int], connection: Connection) -> None:
    """A share process's entry: build its partitions of `__next` and send the count applied so far as text."""
    from projections.catalogue import PROJECTIONS

    # The parent registered the schemas; a share only decodes.
    codec = reading_codec(job.registry_url, job.schemas_dir)
    rebuild = Rebuild(job.bootstrap, job.database_url, codec, PROJECTIONS[job.projection], job.batch)
    asyncio.run(rebuild.build_share(starts, ends, lambda applied, _total: connection.send_bytes(b"%d" % applied)))
