"""Ports the command side depends on; the backends in infra/ implement them."""

from typing import Any, Protocol
from uuid import UUID

from commands.messages import Command, Envelope
from commands.outcomes import Outcome
from domain.gateway import GatewayAnswer


class CommandBus(Protocol):
    """Delivers a command to its context's single writer and waits, bounded, for its outcome."""

    async def dispatch(self, command: Command, envelope: Envelope) -> Outcome: ...


class CommandBackendUnavailable(Exception):
    """The command side cannot be reached right now; the caller may retry later."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Aggregates(Protocol):
    """The aggregates a command handler may load: None when no such aggregate exists yet."""

    def get(self, aggregate_id: UUID) -> Any: ...


class PaymentGateway(Protocol):
    """The simulated payment gateway: scripting what it answers to the next payment requests."""

    async def script(self, answers: list[GatewayAnswer]) -> None: ...
