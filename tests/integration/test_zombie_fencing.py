"""A command processor frozen mid-load (SIGSTOP) loses its partitions; when it wakes it must not write twice."""

import asyncio
import os
import signal
import time

import httpx
import pytest

from tests.conftest import ORDER, settled
from tests.integration.command_load import Answer, assert_orders_in_kafka_exactly_once, client_loop
from tests.platform import StreamkeepProcess, wait_for

pytestmark = pytest.mark.kafka

LOAD_SECONDS = 45
CLIENTS = 6
FROZEN_S = 20  # longer than the 10 s session and transaction timeouts: the group and the coordinator move on


async def freeze_then_thaw(zombie: StreamkeepProcess, stop_at: float) -> float:
    await asyncio.sleep(6)
    assert zombie.process is not None
    os.kill(zombie.process.pid, signal.SIGSTOP)
    frozen_at = time.monotonic()
    await asyncio.sleep(FROZEN_S)
    os.kill(zombie.process.pid, signal.SIGCONT)
    return time.monotonic() - frozen_at


async def load_with_a_zombie(base_url: str, zombie: StreamkeepProcess) -> tuple[list[Answer], float]:
    stop_at = time.monotonic() + LOAD_SECONDS
    answers: list[Answer] = []
    clients = [client_loop(base_url, stop_at, answers) for _ in range(CLIENTS)]
    results = await asyncio.gather(freeze_then_thaw(zombie, stop_at), *clients)
    return answers, results[0]


def test_a_frozen_processor_that_wakes_up_is_fenced_and_nothing_is_written_twice(
    kafka_platform: dict, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    base_url, env = kafka_platform["base_url"], kafka_platform["env"]
    # A second worker shares the partitions; the fixture's worker takes over when it freezes.
    zombie = StreamkeepProcess(["worker", "--role", "commands"], env, tmp_path / "zombie.log").start()
    try:
        wait_for(lambda: "partitions [" in zombie.log_tail(200), 120, "the second worker to own partitions")
        settled(kafka_platform)

        answers, frozen_for = asyncio.run(load_with_a_zombie(base_url, zombie))
        wait_for(
            lambda: httpx.post(f"{base_url}/v1/orders", json=ORDER, timeout=10).status_code == 201, 120, "recovery"
        )

        assert frozen_for >= FROZEN_S
        assert_orders_in_kafka_exactly_once(env, answers)
        retried = [answer for answer in answers if answer[-1] > 1]
        assert retried, "no request waited on the frozen processor: the freeze proved nothing"
        print(f"{len(answers)} commands, {len(retried)} retried; the zombie's log:\n{zombie.log_tail(15)}")
    finally:
        if zombie.process is not None and zombie.process.poll() is None:
            os.kill(zombie.process.pid, signal.SIGCONT)
        zombie.stop()
