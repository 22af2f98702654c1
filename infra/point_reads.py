"""Point reads by key shared between concurrent requests: one query per turn of the event loop, not one per request."""

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

# Rows by key for the keys asked (a key without a row is simply absent).
Fetch = Callable[[list[Any]], Awaitable[dict[Any, Any]]]
MAX_KEYS = 256  # per query: a bounded IN-list keeps each query's plan and answer small


class PointReads:
    """Collects the keys asked for during one turn of the event loop and reads them with one query.

    Under load many requests arrive in the same turn (uvicorn reads every ready socket at once); each of them
    then costs a share of one pool checkout and one round trip instead of its own. A lone request waits for
    nothing: its query is sent at the end of the turn it was asked in.
    """

    def __init__(self, fetch: Fetch, max_keys: int = MAX_KEYS) -> None:
        self._fetch = fetch
        self._max_keys = max_keys
        self._waiting: dict[Hashable, list[asyncio.Future[Any]]] = {}
        self._reads: set[asyncio.Task[None]] = set()  # held so that a running read is not garbage-collected

    async def get(self, key: Hashable) -> Any:
        """The row of `key`, or None when there is none."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send)
        self._waiting.setdefault(key, []).append(answer)
        return await answer

    def _send(self) -> None:
        waiting, self._waiting = self._waiting, {}
        keys = list(waiting)
        for start in range(0, len(keys), self._max_keys):
            share = {key: waiting[key] for key in keys[start : start + self._max_keys]}
            read = asyncio.ensure_future(self._read(share))
            self._reads.add(read)
            read.add_done_callback(self._reads.discard)

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
