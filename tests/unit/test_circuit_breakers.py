"""The circuit breakers' wiring: opening after the threshold, refusing at once, one probe at a time, the metrics;
the gateway's failures and refusals as declines "gateway unavailable"."""

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY

from commands.gateway import GATEWAY_UNAVAILABLE, answer_command
from commands.messages import AuthorisePayment, DeclinePayment
from domain.gateway import FAILED, GatewayAnswer, GatewayScript
from infra.resilience.breakers import Breaker, CircuitOpen, breakers_in_this_process
from infra.resilience.payment_gateway import asked_through, gateway_breaker
from infra.settings import BreakerSettings


class Clock:
    """purgatory reads time.time(); the tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("purgatory.domain.model.time.time", clock.time)
    monkeypatch.setattr("infra.resilience.breakers.time.time", clock.time)
    return clock


def fail(breaker: Breaker, error: Exception | None = None) -> None:
    with pytest.raises(type(error or ConnectionRefusedError())), breaker.calling():
        raise error or ConnectionRefusedError("down")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def named() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def test_a_breaker_opens_after_the_threshold_of_failures_in_a_row_and_then_refuses_at_once(clock: Clock) -> None:
    breaker = Breaker(named(), BreakerSettings(failures=3, reset_s=10))
    fail(breaker)
    fail(breaker)
    with breaker.calling():
        pass  # an answer in between starts the count again
    fail(breaker)
    fail(breaker)
    assert breaker.state == "closed"

    fail(breaker)

    assert breaker.state == "open"
    clock.now += 2.5
    with pytest.raises(CircuitOpen) as refused, breaker.calling():
        pytest.fail("an open breaker let a call through")
    assert refused.value.retry_after_s == 8
    assert refused.value.breaker == breaker.name


def test_after_the_reset_time_one_probe_goes_through_and_others_are_refused_until_it_ends(clock: Clock) -> None:
    breaker = Breaker(named(), BreakerSettings(failures=1, reset_s=5))
    fail(breaker)
    clock.now += 5.1

    with breaker.calling():
        assert breaker.state == "half-open"
        with pytest.raises(CircuitOpen), breaker.calling():
            pytest.fail("a second call went through beside the probe")

    assert breaker.state == "closed"


def test_a_failed_probe_opens_the_breaker_for_another_period(clock: Clock) -> None:
    breaker = Breaker(named(), BreakerSettings(failures=1, reset_s=5))
    fail(breaker)
    clock.now += 5.1

    fail(breaker)

    assert breaker.state == "open"
    with pytest.raises(CircuitOpen), breaker.calling():
        pass


def test_an_error_that_is_an_answer_does_not_count_and_a_cancelled_probe_leaves_the_next_call_to_probe(
    clock: Clock,
) -> None:
    breaker = Breaker(named(), BreakerSettings(failures=1, reset_s=5), lambda e: isinstance(e, ConnectionError))
    fail(breaker, LookupError("no such subject"))
    assert breaker.state == "closed"
    fail(breaker)
    clock.now += 5.1

    async def cancelled_probe() -> None:
        with breaker.calling():
            await asyncio.sleep(10)

    async def cancel() -> None:
        probe = asyncio.ensure_future(cancelled_probe())
        await asyncio.sleep(0)
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe

    asyncio.run(cancel())
    with breaker.calling():  # the next call is the probe, not refused
        pass
    assert breaker.state == "closed"


def test_states_transitions_and_refusals_are_in_the_metrics_and_the_process_knows_its_breakers(clock: Clock) -> None:
    name = named()
    breaker = Breaker(name, BreakerSettings(failures=1, reset_s=5))
    assert sample("streamkeep_circuit_breaker_state", breaker=name) == 0
    fail(breaker)
    assert sample("streamkeep_circuit_breaker_state", breaker=name) == 1
    with pytest.raises(CircuitOpen), breaker.calling():
        pass
    clock.now += 5.1
    with breaker.calling():
        assert sample("streamkeep_circuit_breaker_state", breaker=name) == 2

    assert sample("streamkeep_circuit_breaker_state", breaker=name) == 0
    for state in ("open", "half-open", "closed"):
        assert sample("streamkeep_circuit_breaker_transitions_total", breaker=name, state=state) == 1, state
    assert sample("streamkeep_circuit_breaker_rejections_total", breaker=name) == 1
    assert breakers_in_this_process()[name] is breaker


def test_a_failing_gateway_is_declined_as_unavailable_and_once_open_is_not_asked(clock: Clock) -> None:
    breaker = gateway_breaker(BreakerSettings(failures=2, reset_s=5))
    script = GatewayScript([GatewayAnswer.error("503 from the acquirer")] * 2)
    payment = uuid.uuid4()

    answers = [asked_through(breaker, script.next_answer("AUTH-1")) for _ in range(3)]

    assert [answer.outcome for answer in answers] == [FAILED, FAILED, FAILED]
    assert answers[0].reason == "503 from the acquirer"
    assert "is open" in (answers[2].reason or "")  # the scripted approve was not asked for
    assert answer_command(payment, answers[2]) == DeclinePayment(payment, GATEWAY_UNAVAILABLE)
    clock.now += 5.1
    probe = asked_through(breaker, script.next_answer("AUTH-2"))
    assert answer_command(payment, probe) == AuthorisePayment(payment, "AUTH-2")
    assert breaker.state == "closed"


def test_declines_and_timeouts_are_answers_the_gateway_breaker_does_not_count(clock: Clock) -> None:
    breaker = gateway_breaker(BreakerSettings(failures=1, reset_s=5))

    for answer in (GatewayAnswer.decline("insufficient funds"), GatewayAnswer.timeout()):
        assert asked_through(breaker, answer) == answer

    assert breaker.state == "closed"
