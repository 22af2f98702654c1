"""The simulated payment gateway's logic: its possible answers and a script of the next ones; no I/O."""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from domain.errors import RuleBroken

APPROVED = "approved"
DECLINED = "declined"
TIMED_OUT = "timed-out"
OUTCOMES = (APPROVED, DECLINED, TIMED_OUT)


@dataclass(frozen=True)
class GatewayAnswer:
    """What the gateway said to one authorisation request: approved (with a code), declined (why) or nothing."""

    outcome: str
    reason: str | None = None
    authorisation_code: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise RuleBroken("gateway-answer-known", f"a gateway answer is one of {', '.join(OUTCOMES)}", "outcome")

    @classmethod
    def approve(cls, authorisation_code: str | None = None) -> "GatewayAnswer":
        return cls(APPROVED, authorisation_code=authorisation_code)

    @classmethod
    def decline(cls, reason: str) -> "GatewayAnswer":
        return cls(DECLINED, reason=reason)

    @classmethod
    def timeout(cls) -> "GatewayAnswer":
        return cls(TIMED_OUT)

    def as_dict(self) -> dict[str, str | None]:
        return {"outcome": self.outcome, "reason": self.reason, "authorisation_code": self.authorisation_code}

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> "GatewayAnswer":
        return cls(str(data["outcome"]), data.get("reason"), data.get("authorisation_code"))


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
            return GatewayAnswer.approve(authorisation_code)
        return answer
