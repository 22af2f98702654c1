"""Builds a rebuild's `__next` tables with one process per share of the partitions, when rows never cross them.

One Python process decodes and applies about one core's worth of events; PostgreSQL and Kafka leave the other
cores mostly idle. A projection whose rows each follow one aggregate (`ROWS_FOLLOW_AGGREGATE`) can have its
partitions rebuilt side by side: each process reads its partitions, writes their rows and moves their checkpoint
rows, a transaction a batch, so a killed rebuild still resumes per partition. The parent keeps the rebuild lock
and does the swap alone once every share is done.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

from infra.kafka.event_stream import offsets_between
from infra.runtime.share_processes import PARALLEL_MIN_EVENTS, Share, run_shares, split


@dataclass(frozen=True)
class ShareJob:
    """What a share process needs to build its partitions of `__next` on its own connections."""

    bootstrap: str
    database_url: str
    registry_url: str
    schemas_dir: Path
    projection: str
    batch: int


def shares_for(projection: ModuleType, starts: dict[int, int], ends: dict[int, int], jobs: int | None) -> list[Share]:
    """The partitions each process builds: `jobs` shares (None: one per core, for big enough histories), or one
    share when the projection's rows cross partitions."""
    behind = [p for p, end in ends.items() if end > starts.get(p, 0)]
    if jobs is None:
        jobs = (os.cpu_count() or 1) if offsets_between(starts, ends) >= PARALLEL_MIN_EVENTS else 1
    if min(jobs, len(behind)) <= 1 or not getattr(projection, "ROWS_FOLLOW_AGGREGATE", False):
        return [tuple(sorted(ends))]
    return split(behind, jobs)


ShareEntry = Callable[[ShareJob, dict[int, int], dict[int, int], Connection], None]


def build_shares(
    job: ShareJob,
    entry: ShareEntry,
    shares: list[Share],
    starts: dict[int, int],
    ends: dict[int, int],
    progress: Any,
) -> int:
    """Run `entry(job, ends, starts, connection)` in one spawned process per share (so a module-level function),
    add up the applied counts they send for `progress`, and return the events applied."""
    total = offsets_between(starts, ends)
    done: dict[int, int] = {}

    def reported(index: int, chunk: bytes) -> None:
        done[index] = int(chunk)
        applied = sum(done.values())
        progress(applied, max(total, applied))

    jobs = [(share, (job, {p: ends[p] for p in share}, starts)) for share in shares]
    run_shares("rebuild", entry, jobs, reported)
    return sum(done.values())
