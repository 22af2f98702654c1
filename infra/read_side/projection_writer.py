"""Applies a batch of positioned events to one read-model table and moves its checkpoint, on one connection.

The caller owns the transaction: the worker, a rebuild and `replay --into` all commit rows, checkpoint and
status together, so a crash or a redelivery never applies an event twice and never skips one.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from types import ModuleType
from typing import Any, NamedTuple

from psycopg import AsyncConnection, DataError, IntegrityError
from psycopg.rows import dict_row

from infra.read_side.jsonb import use_fast_jsonb

use_fast_jsonb()

CHECKPOINT_LOCK = 0x5EC0_0003  # advisory lock class: one writer of a projection's rows and checkpoint at a time
# Refusals of the rows themselves, by the server or by the client dumping a value for a column's type.
REFUSED_ROWS = (DataError, IntegrityError, OverflowError)

CREATE_CHECKPOINTS = """
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projection  text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint  NOT NULL,
    PRIMARY KEY (projection, topic, partition)
)
"""
# The highest command offset among the events applied from the partition: what consistency tokens name.
ADD_COMMAND_OFFSET = """
ALTER TABLE projection_checkpoints ADD COLUMN IF NOT EXISTS command_offset bigint NOT NULL DEFAULT -1
"""

CREATE_STATUS = """
CREATE TABLE IF NOT EXISTS projection_status (
    projection     text PRIMARY KEY,
    events         bigint NOT NULL DEFAULT 0,
    dead_letters   bigint NOT NULL DEFAULT 0,
    last_error     text,
    last_error_at  timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
)
"""

SAVE_CHECKPOINT = """
INSERT INTO projection_checkpoints AS c (projection, topic, partition, "offset", command_offset)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (projection, topic, partition) DO UPDATE SET "offset" = EXCLUDED."offset",
    command_offset = GREATEST(c.command_offset, EXCLUDED.command_offset)
"""

SAVE_STATUS = """
INSERT INTO projection_status AS s (projection, events, dead_letters, last_error, last_error_at, updated_at)
VALUES (%(name)s, %(events)s, %(dead)s, %(error)s, CASE WHEN %(error)s::text IS NULL THEN NULL ELSE now() END, now())
ON CONFLICT (projection) DO UPDATE SET events = s.events + EXCLUDED.events,
    dead_letters = s.dead_letters + EXCLUDED.dead_letters,
    last_error = COALESCE(EXCLUDED.last_error, s.last_error),
    last_error_at = COALESCE(EXCLUDED.last_error_at, s.last_error_at), updated_at = now()
"""


class PositionedEvent(NamedTuple):
    """A decoded domain event (or why it could not be decoded) and where it sits in Kafka. A tuple, not a frozen
    dataclass: a rebuild makes one per event, and a tuple is made in a third of the time."""

    topic: str
    partition: int
    offset: int
    event: Any
    error: str | None = None
    command_offset: int = -1  # of the command that produced it (-1: not known)


@dataclass(frozen=True)
class Target:
    """Where a projection writes: its table and the name its checkpoint is kept under. `exclusive`: nothing but
    one rebuild ever writes the table (its `__next`), so rows new to it can be copied straight in, and its writers
    (one process per share of the partitions) lock the checkpoint per partition."""

    projection: ModuleType
    table: str
    checkpoint: str
    exclusive: bool = False

    @classmethod
    def live(cls, projection: ModuleType) -> "Target":
        return cls(projection, projection.NAME, projection.NAME)


@dataclass
class Applied:
    """What one batch did to one target."""

    events: int = 0
    failures: list[tuple[PositionedEvent, str]] = field(default_factory=list)


async def create_bookkeeping(conn: AsyncConnection[Any]) -> None:
    """The checkpoint and status tables every projection writer shares (and the columns added since)."""
    await conn.execute(CREATE_CHECKPOINTS)
    await conn.execute(ADD_COMMAND_OFFSET)
    await conn.execute(CREATE_STATUS)


async def create_tables(conn: AsyncConnection[Any], target: Target) -> None:
    for statement in target.projection.create_sql(target.table):
        await conn.execute(statement)


async def apply_batch(conn: AsyncConnection[Any], target: Target, batch: Sequence[PositionedEvent]) -> Applied:
    """Apply the events past the target's checkpoint, upsert the rows they changed, move the checkpoint.

    In a savepoint of the caller's transaction: when PostgreSQL refuses the rows (a value out of a column's
    range, a NUL in text, ...), which no retry can change, the halves of the batch are applied in turn until the
    refused event is alone; it is then a failure like an event `apply` raised on (dead-lettered by the worker),
    and the rest of the batch applies."""
    await conn.execute("SAVEPOINT apply_batch")
    try:
        applied = await _apply(conn, target, batch)
    except REFUSED_ROWS as error:
        await conn.execute("ROLLBACK TO SAVEPOINT apply_batch")
        return await _isolate_refused(conn, target, batch, error)
    await conn.execute("RELEASE SAVEPOINT apply_batch")
    return applied


async def _isolate_refused(
    conn: AsyncConnection[Any], target: Target, batch: Sequence[PositionedEvent], error: Exception
) -> Applied:
    if len(batch) == 1:
        reason = str(error).splitlines()[0] if str(error) else ""
        refused = batch[0]._replace(error=f"{target.projection.NAME}: PostgreSQL refused its row: {reason}")
        return await _apply(conn, target, [refused])
    middle = len(batch) // 2
    first = await apply_batch(conn, target, batch[:middle])
    second = await apply_batch(conn, target, batch[middle:])
    return Applied(first.events + second.events, first.failures + second.failures)


async def _apply(conn: AsyncConnection[Any], target: Target, batch: Sequence[PositionedEvent]) -> Applied:
    projection = target.projection
    cursor = conn.cursor()
    if target.exclusive:
        # A rebuild's processes each write their own partitions: they take turns per partition, not per table.
        for topic, partition in sorted({(p.topic, p.partition) for p in batch}):
            await lock_checkpoint(conn, f"{target.checkpoint}/{topic}/{partition}")
    else:
        await lock_checkpoint(conn, target.checkpoint)
    done = await checkpoints(conn, target.checkpoint)
    fresh = _past(done, batch)
    if not fresh:
        return Applied()
    applied = Applied(events=len(fresh))
    keyed = []
    for positioned in fresh:
        if positioned.error is not None:
            applied.failures.append((positioned, positioned.error))
            continue
        try:
            keyed.append((projection.key(positioned.event), positioned))
        except Exception as error:  # a handler error is the event's fault: dead-letter it, go on
            applied.failures.append((positioned, f"{projection.NAME}: {type(error).__name__}: {error}"))
    rows = await _current_rows(conn, target, _keys_to_look_up(target, keyed))
    stored = set(rows)
    changed = set()
    for row_key, positioned in keyed:
        if row_key is None:
            continue
        try:
            row = projection.apply(rows.get(row_key), positioned.event)
        except Exception as error:
            applied.failures.append((positioned, f"{projection.NAME}: {type(error).__name__}: {error}"))
            continue
        if row is not None:
            rows[row_key] = row
            changed.add(row_key)
    if changed:
        await write_rows(conn, target, [rows[k] for k in changed], stored)
    ends: dict[tuple[str, int], tuple[int, int]] = {}
    for positioned in fresh:  # in offset order per partition (see _past)
        where = (positioned.topic, positioned.partition)
        commanded = max(positioned.command_offset, ends.get(where, (-1, -1))[1])
        ends[where] = (positioned.offset, commanded)
    await cursor.executemany(
        SAVE_CHECKPOINT, [(target.checkpoint, t, p, o, c) for (t, p), (o, c) in sorted(ends.items())]
    )
    last_error = applied.failures[-1][1] if applied.failures else None
    await cursor.execute(
        SAVE_STATUS,
        {"name": target.checkpoint, "events": applied.events, "dead": len(applied.failures), "error": last_error},
    )
    return applied


def _keys_to_look_up(target: Target, keyed: list[tuple[Any, PositionedEvent]]) -> set[Any]:
    """The rows the batch needs from the table. On an exclusive target, a row whose first event in the batch is one
    its projection starts rows with (`STARTS_ROW`) cannot be in the table yet: only this writer fills it, from the
    checkpoint on, and the event lies past it. (A second such event for a row, which our writers never store,
    meets the key's unique index and is dead-lettered alone.) Most of a rebuild's rows start in their batch."""
    starts_row = getattr(target.projection, "STARTS_ROW", ()) if target.exclusive else ()
    wanted: set[Any] = set()
    started: set[Any] = set()
    for row_key, positioned in keyed:
        if row_key is None or row_key in wanted or row_key in started:
            continue
        (started if isinstance(positioned.event, starts_row) else wanted).add(row_key)
    return wanted


async def lock_checkpoint(conn: AsyncConnection[Any], name: str) -> None:
    """Hold the checkpoint of `name` until the transaction ends: every writer of a projection (workers briefly
    sharing a partition during a rebalance, a rebuild's swap) takes turns here, even before the checkpoint has a
    row to lock."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (CHECKPOINT_LOCK, name))


_POSITION = itemgetter(0, 1, 2)  # a PositionedEvent's (topic, partition, offset)


def _past(done: dict[tuple[str, int], int], batch: Sequence[PositionedEvent]) -> list[PositionedEvent]:
    """The events past the checkpoint, each position once and in offset order per partition: a batch that spans
    a rebalance can hold a partition's records twice, re-read from an earlier offset."""
    reached = dict(done)
    fresh = []
    for positioned in sorted(batch, key=_POSITION):
        where = (positioned.topic, positioned.partition)
        if positioned.offset > reached.get(where, -1):
            reached[where] = positioned.offset
            fresh.append(positioned)
    return fresh


async def _current_rows(conn: AsyncConnection[Any], target: Target, keys: set[Any]) -> dict[Any, dict[str, Any]]:
    if not keys:
        return {}
    key = target.projection.KEY
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(f"SELECT * FROM {target.table} WHERE {key} = ANY(%s)", (list(keys),))
    return {row[key]: row for row in await cursor.fetchall()}


async def write_rows(
    conn: AsyncConnection[Any], target: Target, rows: list[dict[str, Any]], stored: Collection[Any] | None = None
) -> None:
    """Binary COPY, typed once per table. On an exclusive target, rows whose key is not `stored` (not in the table
    yet) go straight in; the rest go to a session-private staging table merged by the projection's upsert."""
    projection = target.projection
    key = projection.KEY
    if target.exclusive and stored is not None:
        new: list[dict[str, Any]] = []
        known: list[dict[str, Any]] = []
        for row in rows:
            (known if row[key] in stored else new).append(row)
        await _copy_rows(conn, target.table, projection.COLUMNS, new)
        rows = known
    if not rows:
        return
    # Sorted keys: concurrent writers lock rows in one order and cannot deadlock. (Rows copied straight in above
    # lock nothing another writer waits for: an exclusive target's writers each own their partitions' rows.)
    rows = sorted(rows, key=lambda row: str(row[key]))
    staged = f"staged_{target.table}"
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staged} (LIKE {target.table}) ON COMMIT DELETE ROWS")
    await _copy_rows(conn, staged, projection.COLUMNS, rows)
    await conn.execute(projection.upsert_sql(target.table, staged))
    # ON COMMIT DELETE ROWS empties it at commit; a second write in the same transaction must not see these.
    await conn.execute(f"DELETE FROM {staged}")


async def _copy_rows(
    conn: AsyncConnection[Any], table: str, columns: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    types = await column_types(conn, table, columns)
    async with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        # Types set once: psycopg then dumps each value with the column's dumper, no per-value lookup.
        copy.set_types(types)
        # A row's values in column order, picked in C (itemgetter of one name gives the value, not a tuple).
        values = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        for row in rows:
            await copy.write_row(values(row))


async def column_types(conn: AsyncConnection[Any], table: str, columns: Sequence[str]) -> list[int]:
    """The type oids of a table's columns, in the order given (a staging table's are its model's).

    Asked once per table and column list in a process, not once per batch: a table's definition comes from its
    model's `create_sql`, which a running process does not change, and a swapped-in `__next` has the same one."""
    cached = _COLUMN_TYPES.get((table, tuple(columns)))
    if cached is not None:
        return cached
    cursor = await conn.execute(
        "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        (table,),
    )
    oids = dict(await cursor.fetchall())
    types = [oids[column] for column in columns]
    _COLUMN_TYPES[(table, tuple(columns))] = types
    return types


_COLUMN_TYPES: dict[tuple[str, tuple[str, ...]], list[int]] = {}


async def checkpoints(conn: AsyncConnection[Any], name: str) -> dict[tuple[str, int], int]:
    cursor = await conn.execute(
        'SELECT topic, partition, "offset" FROM projection_checkpoints WHERE projection = %s', (name,)
    )
    return {(t, p): o for t, p, o in await cursor.fetchall()}


async def passed_positions(conn: AsyncConnection[Any], name: str) -> dict[tuple[str, int], int]:
    """What a read model has passed, for consistency tokens: per events partition, the last event's offset
    under (`<context>.events`, p) and the last command's under (`<context>.commands`, p)."""
    cursor = await conn.execute(
        'SELECT topic, partition, "offset", command_offset FROM projection_checkpoints WHERE projection = %s',
        (name,),
    )
    passed = {}
    for topic, partition, offset, command_offset in await cursor.fetchall():
        passed[(topic, partition)] = offset
        passed[(topic.removesuffix(".events") + ".commands", partition)] = command_offset
    return passed
