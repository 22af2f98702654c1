"""Runs one spawned process per share of a topic's partitions, passes on what each sends, and ends them together."""

import ctypes
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from infra.runtime.gc_tuning import collect_rarely

Share = tuple[int, ...]
PARALLEL_MIN_EVENTS = 100_000  # below this, starting processes costs more than it saves
_PR_SET_PDEATHSIG = 1


def split(partitions: Sequence[int], count: int) -> list[Share]:
    """`count` shares of the partitions dealt round robin: at most one per partition, one for a count below 2."""
    ordered = sorted(partitions)
    count = min(count, len(ordered))
    if count <= 1:
        return [tuple(ordered)]
    return [tuple(ordered[i::count]) for i in range(count)]


def run_shares(
    what: str,
    target: Callable[..., None],
    jobs: Sequence[tuple[Share, tuple[Any, ...]]],
    on_chunk: Callable[[int, bytes], None],
) -> None:
    """For each (share, args), run `target(*args, connection)` in a process of its own; call `on_chunk(index,
    bytes)` for every chunk a process sends until all are done. A process that fails fails the whole run."""
    context = multiprocessing.get_context("spawn")  # no fork: librdkafka's threads do not survive one
    readers: dict[Connection, int] = {}
    workers = []
    for index, (share, args) in enumerate(jobs):
        reader, writer = context.Pipe(duplex=False)
        worker = context.Process(target=_in_share, args=(target, args, os.getpid(), writer), daemon=True)
        worker.start()
        writer.close()
        readers[reader] = index
        workers.append((worker, share))
    try:
        while readers:
            for reader in wait(list(readers)):
                try:
                    on_chunk(readers[reader], reader.recv_bytes())  # type: ignore[union-attr]
                except EOFError:
                    del readers[reader]  # type: ignore[arg-type]
        for worker, share in workers:
            worker.join()
            if worker.exitcode != 0:
                raise RuntimeError(f"the {what} of partitions {share} exited with code {worker.exitcode}")
    finally:
        for worker, _ in workers:
            if worker.is_alive():
                worker.kill()


def _in_share(target: Callable[..., None], args: tuple[Any, ...], parent: int, connection: Connection) -> None:
    _die_with(parent)
    collect_rarely()
    target(*args, connection)
    connection.close()


def _die_with(parent: int) -> None:
    """A share must not outlive the command that started it (a rebuild's lock goes with that command, and another
    rebuild may then split the partitions differently): Linux kills this process when the parent dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux; __next's per-partition locks still keep two writers of a partition from overlapping
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
