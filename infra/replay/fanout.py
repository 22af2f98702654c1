"""Splits a whole-topic JSON-lines replay across processes, a share of the partitions each; this process passes
their chunks (whole lines) on to stdout. A partition's lines keep their order; partitions interleave, as before."""

import dataclasses
import os
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TextIO

import typer

from infra.kafka.event_stream import Window, end_offsets
from infra.runtime.share_processes import PARALLEL_MIN_EVENTS, Share, run_shares, split


def jobs_for(bootstrap: str, topic: str) -> list[Share]:
    """Each process's partitions: one share per core (at most one per partition); one share for small topics."""
    ends = end_offsets(bootstrap, topic)
    return split(ends, (os.cpu_count() or 1) if sum(ends.values()) >= PARALLEL_MIN_EVENTS else 1)


def replay_shares(
    shares: list[Share],
    bootstrap: str,
    registry_url: str,
    schemas_dir: Path,
    topic: str,
    window: Window,
    out: TextIO,
    type_: str | None = None,
) -> None:
    """Run one process per share and copy what each prints to `out` as it comes."""
    out.flush()
    sink = out.buffer  # type: ignore[attr-defined]
    jobs = [
        (share, (bootstrap, registry_url, schemas_dir, topic, dataclasses.replace(window, partitions=share), type_))
        for share in shares
    ]
    run_shares("replay", _replay_share, jobs, lambda _index, chunk: sink.write(chunk))


class _PipeOut:
    """What write_json_lines writes to, in a worker: each chunk sent whole, so lines never split."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def write(self, text: str) -> None:
        if text:
            self._connection.send_bytes(text.encode())

    def flush(self) -> None:
        pass


def _replay_share(
    bootstrap: str,
    registry_url: str,
    schemas_dir: Path,
    topic: str,
    window: Window,
    type_: str | None,
    connection: Connection,
) -> None:
    from infra.avro.codec import reading_codec
    from infra.replay.json_lines import write_json_lines

    # The parent registered the schemas; a share only decodes.
    codec = reading_codec(registry_url, schemas_dir)
    write_json_lines(bootstrap, codec, topic, window, _PipeOut(connection), _warn, type_=type_)  # type: ignore[arg-type]


def _warn(message: str) -> None:
    typer.echo(f"streamkeep: {message}", err=True)
    sys.stderr.flush()
