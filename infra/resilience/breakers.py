"""A circuit breaker toward one dependency: purgatory's state model, one probe at a time, states in /metrics."""

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from purgatory import SyncCircuitBreakerFactory
from purgatory.domain.model import CLOSED, HALF_OPENED, OPENED, OpenedState

from infra.observability.metrics import BREAKER_REJECTIONS, BREAKER_STATE, BREAKER_TRANSITIONS
from infra.settings import BreakerSettings

# purgatory's names for its states, and ours (the README's, the gauge's value).
STATES = {CLOSED: ("closed", 0), OPENED: ("open", 1), HALF_OPENED: ("half-open", 2)}
_IN_THIS_PROCESS: dict[str, "Breaker"] = {}


class CircuitOpen(Exception):
    """The breaker refused the call: its dependency kept failing, and is not asked again until `retry_after_s`."""

    def __init__(self, breaker: str, retry_after_s: int) -> None:
        super().__init__(f"circuit breaker {breaker} is open; the next try is in {retry_after_s} s")
        self.breaker = breaker
        self.retry_after_s = retry_after_s


def any_error(error: Exception) -> bool:
    return True


class Breaker:
    """Counts the dependency's failures and, past the threshold, refuses calls at once until the reset time; then
    one call goes through as a probe (half-open) and closes it again, or opens it for another period.

    purgatory lets every call through while half-open. A dependency that is still down would then hold each of
    them for its whole timeout (a pool checkout, a registry request), the very wait the breaker is there to
    spare; so while a probe is under way the others are refused as if open.
    """

    def __init__(
        self, name: str, settings: BreakerSettings, is_failure: Callable[[Exception], bool] = any_error
    ) -> None:
        self.name = name
        self._is_failure = is_failure
        # One factory per breaker: its in-memory state is this breaker's alone (the sync flavour serves threads
        # and coroutines alike: entering and leaving it never waits on anything).
        factory = SyncCircuitBreakerFactory(default_threshold=settings.failures, default_ttl=settings.reset_s)
        self._circuit = factory.get_breaker(name)
        self._lock = threading.Lock()
        self._probing = False
        self._reported = CLOSED
        BREAKER_STATE.labels(name).set(0)
        _IN_THIS_PROCESS[name] = self

    @property
    def state(self) -> str:
        """closed, open or half-open (open until the first call after the reset time starts the probe)."""
        return STATES[self._circuit.context.state][0]

    @property
    def retry_after_s(self) -> int:
        """Whole seconds until a probe may be let through (at least 1)."""
        context = self._circuit.context
        if context.state != OPENED or context.opened_at is None:
            return 1
        return max(1, math.ceil(context.opened_at + context.ttl - time.time()))

    @contextmanager
    def calling(self) -> Iterator[None]:
        """Around one call to the dependency: raises CircuitOpen instead of entering while the breaker is open; an
        exception out of the block counts as the dependency's failure when `is_failure` says so (else as an
        answer); a cancelled call counts as neither."""
        probe = self._enter()
        try:
            yield
        except Exception as error:
            self._leave(probe, error if self._is_failure(error) else None)
            raise
        except BaseException:  # cancelled, or the process stopping: says nothing of the dependency
            self._leave(probe, None, counted=False)
            raise
        else:
            self._leave(probe, None)

    def _enter(self) -> bool:
        with self._lock:
            if self._probing:
                raise self._refused(1)
            try:
                self._circuit.__enter__()
            except OpenedState:
                raise self._refused(self.retry_after_s) from None
            self._probing = self._circuit.context.state == HALF_OPENED
            self._report()
            return self._probing

    def _leave(self, probe: bool, failure: Exception | None, counted: bool = True) -> None:
        with self._lock:
            if counted and failure is not None:
                self._circuit.__exit__(type(failure), failure, failure.__traceback__)
            elif counted:
                self._circuit.__exit__(None, None, None)
            if probe:
                self._probing = False
            self._report()

    def _refused(self, retry_after_s: int) -> CircuitOpen:
        BREAKER_REJECTIONS.labels(self.name).inc()
        return CircuitOpen(self.name, retry_after_s)

    def _report(self) -> None:
        # Our own bookkeeping rather than purgatory's listener: it hears of half-open only once the probe ends.
        state = self._circuit.context.state
        if state != self._reported:
            self._reported = state
            name, value = STATES[state]
            BREAKER_STATE.labels(self.name).set(value)
            BREAKER_TRANSITIONS.labels(self.name, name).inc()


def breakers_in_this_process() -> dict[str, Breaker]:
    """Every breaker this process made, by name: /readyz reports them."""
    return dict(_IN_THIS_PROCESS)
