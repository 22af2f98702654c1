"""Splits a whole-topic JSON-lines replay across processes, a share of the partitions each; this process passes
their chunks (whole lines) on to stdout. A partition's lines keep their order; partitions interleave, as before."""

import dataclasses
import multiprocessing
import os
import sys
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TextIO

import typer

from infra.event_stream import Window, end_offsets

FANOUT_MIN_EVENTS = 100_000  # below this, starting processes costs more than it saves


def jobs_for(bootstrap: str, topic: str) -> list[tuple[int, ...]]:
    """Each process's partitions: one share per core (at most one per partition); one share for small topics."""
    ends = end_offsets(bootstrap, topic)
    count = min(os.cpu_count() or 1, len(ends))
    if count <= 1 or sum(ends.values()) < FANOUT_MIN_EVENTS:
        return [tuple(sorted(ends))]
    return [tuple(sorted(ends)[i::count]) for i in range(count)]


def replay_shares(
    shares: list[tuple[int, ...]],
    bootstrap: str,
    registry_url: str,
    schemas_dir: Path,
    topic: str,
    window: Window,
    out: TextIO,
    type_: str | None = None,
) -> None:
    """Run one process per share and copy what each prints to `out` as it comes."""
    context = multiprocessing.get_context("spawn")  # no fork: librdkafka's threads do not survive one
    readers, workers = [], []
    for share in shares:
        reader, writer = context.Pipe(duplex=False)
        share_window = dataclasses.replace(window, partitions=share)
        args = (bootstrap, registry_url, schemas_dir, topic, share_window, type_, writer)
        worker = context.Process(target=_replay_share, args=args, daemon=True)
        worker.start()
        writer.close()
        readers.append(reader)
        workers.append(worker)
    try:
        out.flush()
        sink = out.buffer  # type: ignore[attr-defined]
        while readers:
            for reader in wait(readers):
                try:
                    sink.write(reader.recv_bytes())
                except EOFError:
                    readers.remove(reader)  # type: ignore[arg-type]
        for worker, share in zip(workers, shares, strict=True):
            worker.join()
            if worker.exitcode != 0:
                raise RuntimeError(f"the replay of partitions {share} exited with code {worker.exitcode}")
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()


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
    from infra.avro_codec import reading_codec
    from infra.json_lines import write_json_lines

    # The parent registered the schemas; a share only decodes.
    codec = reading_codec(registry_url, schemas_dir)
    write_json_lines(bootstrap, codec, topic, window, _PipeOut(connection), _warn, type_=type_)  # type: ignore[arg-type]
    connection.close()


def _warn(message: str) -> None:
    typer.echo(f"streamkeep: {message}", err=True)
    sys.stderr.flush()
