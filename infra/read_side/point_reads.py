"""Point reads by key shared between concurrent requests: one query per turn of the event loop, not one per request."""

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

# Rows by key for the keys asked (a key without a row is simply absent).
Fetch = Callable[[list[Any]], Awaitable[dict[Any, Any]]]
MAX_KEYS = 256  # per query: a bounded IN-list keeps each query's plan and answer small
# Reads of one kind running at once; keys asked for meanwhile wait for the next free read and share it. Half
# the read-model pool, so point reads never hold every connection.
MAX_READS = 4


class PointReads:
    """Collects the keys asked for during one turn of the event loop and reads them with one query.

    Under load many requests arrive in the same turn (uvicorn reads every ready socket at once); each of them
    then costs a share of one pool checkout and one round trip instead of its own. While `max_reads` reads
    are running, further keys gather for the next free one. A lone request waits for nothing: its query is
    sent at the end of the turn it was asked in.
    """

    def __init__(self, fetch: Fetch, max_keys: int = MAX_KEYS, max_reads: int = MAX_READS) -> None:
        self._fetch = fetch
        self._max_keys = max_keys
        self._max_reads = max_reads
        self._waiting: dict[Hashable, list[asyncio.Future[Any]]] = {}
        self._sending = False  # a _send is scheduled
        self._reads: set[asyncio.Task[None]] = set()  # running; held so that none is garbage-collected

    async def get(self, key: Hashable) -> Any:
        """The row of `key`, or None when there is none."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(answer)
        self._send_soon()
        return await answer

    def _send_soon(self) -> None:
        if self._waiting and not self._sending and len(self._reads) < self._max_reads:
            self._sending = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._sending = False
        waiting, self._waiting = self._waiting, {}
        keys = list(waiting)
        for start in range(0, len(keys), self._max_keys):
            share = {key: waiting[key] for key in keys[start : start + self._max_keys]}
            read = asyncio.ensure_future(self._read(share))
            self._reads.add(read)
            read.add_done_callback(self._read_done)

    def _read_done(self, read: "asyncio.Task[None]") -> None:
        self._reads.discard(read)
        self._send_soon()  # what was asked for while every read was busy

    async def _read(self, waiting: dict[Hashable, list[asyncio.Future[Any]]]) -> None:
        try:
            rows = await self._fetch(list(waiting))
        except Exception as error:
            for answers in waiting.values():
                for answer in answers:
                    if not answer.done():  # a request whose client went away was cancelled
                        answer.set_exception(error)
            return
        for key, answers in waiting.items():
            for answer in answers:
                if not answer.done():
                    answer.set_result(rows.get(key))
