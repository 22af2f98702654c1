"""The simulated payment gateway asked through its circuit breaker: a failing gateway stops being asked."""

from domain.gateway import FAILED, GatewayAnswer
from infra.resilience.breakers import Breaker, CircuitOpen
from infra.settings import BreakerSettings

BREAKER = "payment-gateway"


class GatewayFailed(Exception):
    """The gateway failed instead of answering (scripted: `{"outcome": "error"}`)."""


def gateway_breaker(settings: BreakerSettings) -> Breaker:
    return Breaker(BREAKER, settings, lambda error: isinstance(error, GatewayFailed))


def asked_through(breaker: Breaker, answer: GatewayAnswer) -> GatewayAnswer:
    """What comes of asking the gateway, whose answer would be `answer`: that answer while the breaker lets the
    request through (a failure counted against it), else a failure at once, the gateway not asked. Either failure
    becomes a decline "gateway unavailable" (commands/gateway.py), which the fulfilment saga compensates."""
    try:
        with breaker.calling():
            if answer.outcome == FAILED:
                raise GatewayFailed(answer.reason)
    except GatewayFailed:
        return answer
    except CircuitOpen as open_:
        return GatewayAnswer.error(str(open_))
    return answer
