"""Point reads: concurrent requests share one fetch, and every request gets its own row, None, or the error."""

import asyncio

import pytest

from infra.read_side.point_reads import PointReads


class Store:
    """Rows by key, recording every fetch it is asked for."""

    def __init__(self, rows: dict[str, str], fail: bool = False) -> None:
        self.rows = rows
        self.fail = fail
        self.fetches: list[list[str]] = []
        self.running = 0
        self.most_at_once = 0

    async def fetch(self, keys: list[str]) -> dict[str, str]:
        self.fetches.append(keys)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0)
        self.running -= 1
        if self.fail:
            raise ConnectionError("database gone")
        return {key: self.rows[key] for key in keys if key in self.rows}


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def test_requests_in_one_turn_share_one_fetch_and_get_their_own_rows() -> None:
    store = Store({"a": "row a", "b": "row b"})
    reads = PointReads(store.fetch)

    async def scenario() -> list[str | None]:
        return await asyncio.gather(reads.get("a"), reads.get("b"), reads.get("a"), reads.get("missing"))

    assert run(scenario()) == ["row a", "row b", "row a", None]
    assert store.fetches == [["a", "b", "missing"]]


def test_a_request_after_a_turn_gets_a_fetch_of_its_own() -> None:
    store = Store({"a": "row a", "b": "row b"})
    reads = PointReads(store.fetch)

    async def scenario() -> list[str | None]:
        first = await reads.get("a")
        return [first, await reads.get("b")]

    assert run(scenario()) == ["row a", "row b"]
    assert store.fetches == [["a"], ["b"]]


def test_keys_over_the_limit_are_split_into_several_fetches() -> None:
    store = Store({str(i): f"row {i}" for i in range(5)})
    reads = PointReads(store.fetch, max_keys=2)

    async def scenario() -> list[str | None]:
        return await asyncio.gather(*(reads.get(str(i)) for i in range(5)))

    assert run(scenario()) == [f"row {i}" for i in range(5)]
    assert store.fetches == [["0", "1"], ["2", "3"], ["4"]]


def test_a_failed_fetch_fails_every_request_that_shared_it() -> None:
    reads = PointReads(Store({"a": "row a"}, fail=True).fetch)

    async def scenario() -> list[object]:
        return await asyncio.gather(reads.get("a"), reads.get("b"), return_exceptions=True)

    answers = run(scenario())
    assert [type(answer) for answer in answers] == [ConnectionError, ConnectionError]


def test_a_cancelled_request_does_not_stop_the_others() -> None:
    store = Store({"a": "row a", "b": "row b"})
    reads = PointReads(store.fetch)

    async def scenario() -> str | None:
        gone = asyncio.ensure_future(reads.get("a"))
        kept = asyncio.ensure_future(reads.get("b"))
        await asyncio.sleep(0)  # both are waiting, their fetch scheduled
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await kept

    assert run(scenario()) == "row b"


def test_keys_asked_while_every_read_is_busy_share_the_next_read() -> None:
    store = Store({"a": "row a", "b": "row b", "c": "row c"})
    reads = PointReads(store.fetch, max_reads=1)

    async def scenario() -> list[str | None]:
        first = asyncio.ensure_future(reads.get("a"))
        await asyncio.sleep(0)  # the read of "a" is running: it waits on the store
        later = await asyncio.gather(reads.get("b"), reads.get("c"))
        return [await first, *later]

    assert run(scenario()) == ["row a", "row b", "row c"]
    assert store.fetches == [["a"], ["b", "c"]]
    assert store.most_at_once == 1
