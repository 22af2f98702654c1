"""The simulated payment gateway's logic: its possible answers and a script of the next ones; no I/O."""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from domain.errors import RuleBroken

APPROVED = "approved"
DECLINED = "declined"
TIMED_OUT = "timed-out"
FAILED = "failed"  # the call itself failed (an error, not a decline): what a circuit breaker counts
OUTCOMES = (APPROVED, DECLINED, TIMED_OUT, FAILED)
# A late answer waits at most this long: the gateway answers the requests in order, so it holds up the next ones.
MAX_DELAY_S = 120.0


@dataclass(frozen=True)
class GatewayAnswer:
    """What the gateway said to one authorisation request: approved (with a code), declined (why), nothing, or an
    error instead of an answer (failed, with what went wrong)."""

    outcome: str
    reason: str | None = None
    authorisation_code: str | None = None
    delay_s: float = 0.0  # how long after the request the answer comes: a late answer, for the saga's deadline

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise RuleBroken("gateway-answer-known", f"a gateway answer is one of {', '.join(OUTCOMES)}", "outcome")
        if not 0 <= self.delay_s <= MAX_DELAY_S:
            raise RuleBroken("gateway-delay-in-range", f"an answer comes 0 to {MAX_DELAY_S:g} s late", "delay_s")

    @classmethod
    def approve(cls, authorisation_code: str | None = None, delay_s: float = 0.0) -> "GatewayAnswer":
        return cls(APPROVED, authorisation_code=authorisation_code, delay_s=delay_s)

    @classmethod
    def decline(cls, reason: str, delay_s: float = 0.0) -> "GatewayAnswer":
        return cls(DECLINED, reason=reason, delay_s=delay_s)

    @classmethod
    def timeout(cls) -> "GatewayAnswer":
        return cls(TIMED_OUT)

    @classmethod
    def error(cls, reason: str, delay_s: float = 0.0) -> "GatewayAnswer":
        return cls(FAILED, reason=reason, delay_s=delay_s)

    def as_dict(self) -> dict[str, str | float | None]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "authorisation_code": self.authorisation_code,
            "delay_s": self.delay_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | float | None]) -> "GatewayAnswer":
        reason, code = data.get("reason"), data.get("authorisation_code")
        return cls(
            str(data["outcome"]),
            None if reason is None else str(reason),
            None if code is None else str(code),
            float(data.get("delay_s") or 0.0),
        )


class GatewayScript:
    """The simulated gateway's next answers: the scripted ones in order, then approve for ever."""

    def __init__(self, answers: Iterable[GatewayAnswer] = ()) -> None:
        self._answers = deque(answers)

    def script(self, answers: Iterable[GatewayAnswer]) -> None:
        # Replaces rather than appends, so a test states exactly what comes next whatever ran before it.
        self._answers = deque(answers)

    @property
    def pending(self) -> list[GatewayAnswer]:
        return list(self._answers)

    def next_answer(self, authorisation_code: str) -> GatewayAnswer:
        """The next answer; the caller makes the code an approval carries when the script did not fix one."""
        answer = self._answers.popleft() if self._answers else GatewayAnswer.approve()
        if answer.outcome == APPROVED and answer.authorisation_code is None:
            return GatewayAnswer.approve(authorisation_code, answer.delay_s)
        return answer

    def next_delay_s(self) -> float:
        """How late the next answer comes, without taking it."""
        return self._answers[0].delay_s if self._answers else 0.0
