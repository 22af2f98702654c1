"""What a saga runner's committed transactions did, counted into the saga metrics."""

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from infra.observability.stream_metrics import (
    SAGA_COMPENSATIONS,
    SAGA_DEADLINES_FIRED,
    SAGA_INSTANCES,
    SAGA_STEP_DURATION,
    SAGA_STUCK,
)
from sagas.history import (
    COMPENSATING,
    STATUSES,
    STUCK,
    CommandSent,
    DeadlineReached,
    Recorded,
    ReplyReceived,
    StatusChanged,
)

# Commands sent and not answered yet, remembered for their step latency; an answer that never comes (the instance
# got stuck, or another runner took the partition) must not hold memory for ever.
MAX_AWAITED = 10_000


class SagaTally:
    """Notes a batch's records as they are produced and counts them when the batch commits: an aborted batch is
    handled again after the rewind, and would count twice."""

    def __init__(self, saga_type: str) -> None:
        self._saga_type = saga_type
        self._sent: dict[UUID, datetime] = {}  # command id -> when its last attempt was sent
        self._steps: list[tuple[str, float]] = []
        self._events: Counter[str] = Counter()

    def note(self, records: Iterable[Recorded], status: str) -> None:
        """`status`: the instance's before these records; a status counts when the instance enters it."""
        for record in records:
            event = record.event
            if isinstance(event, CommandSent):
                self._sent.pop(event.command_id, None)  # a resend moves to the end: the oldest go first
                self._sent[event.command_id] = record.at
                if len(self._sent) > MAX_AWAITED:
                    del self._sent[next(iter(self._sent))]
            elif isinstance(event, ReplyReceived) and (sent_at := self._sent.pop(event.command_id, None)):
                self._steps.append((event.command_type, (record.at - sent_at).total_seconds()))
            elif isinstance(event, DeadlineReached):
                self._events["deadline"] += 1
            elif isinstance(event, StatusChanged):
                if event.status != status and event.status in (COMPENSATING, STUCK):
                    self._events[event.status] += 1
                status = event.status

    def committed(self) -> None:
        for command_type, seconds in self._steps:
            SAGA_STEP_DURATION.labels(self._saga_type, command_type).observe(seconds)
        SAGA_DEADLINES_FIRED.labels(self._saga_type).inc(self._events["deadline"])
        SAGA_COMPENSATIONS.labels(self._saga_type).inc(self._events[COMPENSATING])
        SAGA_STUCK.labels(self._saga_type).inc(self._events[STUCK])
        self.aborted()

    def aborted(self) -> None:
        self._steps.clear()
        self._events.clear()

    def instances(self, by_status: Counter[str]) -> None:
        """Set the gauge of instances by status to what this runner's partitions hold now."""
        for status in STATUSES:
            SAGA_INSTANCES.labels(self._saga_type, status).set(by_status[status])
