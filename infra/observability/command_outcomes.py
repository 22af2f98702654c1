"""Counts each command's outcome where the API learns it, and names the command on every line logged meanwhile."""

from structlog.contextvars import bound_contextvars

from commands.messages import Command, Envelope
from commands.outcomes import Outcome
from commands.ports import CommandBackendUnavailable, CommandBus
from infra.observability.metrics import COMMANDS


class CountedCommandBus:
    """A command bus in front of the backend's: the same answers, each counted by context, type and outcome."""

    def __init__(self, bus: CommandBus) -> None:
        self._bus = bus

    async def dispatch(self, command: Command, envelope: Envelope) -> Outcome:
        context, kind = command.context, type(command).__name__
        with bound_contextvars(
            context=context,
            command_type=kind,
            command_id=str(envelope.command_id),
            correlation_id=str(envelope.correlation_id),
        ):
            try:
                outcome = await self._bus.dispatch(command, envelope)
            except CommandBackendUnavailable:
                # No outcome in time (or Kafka did not take it): the client gets 503 and may retry.
                COMMANDS.labels(context, kind, "timeout").inc()
                raise
            COMMANDS.labels(context, kind, outcome.status).inc()
            return outcome
