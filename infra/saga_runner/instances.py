"""The saga instances of the partitions a runner owns, rebuilt from their own events, and when each is due."""

import heapq
import logging
from collections import Counter
from datetime import datetime
from uuid import UUID

from infra.avro.codec import AvroCodec, UndecodableMessage
from infra.avro.saga_mapping import record_to_saga_event
from infra.kafka.reader import read_to_end
from infra.kafka.topics import saga_events_topic
from sagas.state import SagaState, evolve

log = logging.getLogger(__name__)


class Instances:
    """Every instance of one partition, and a heap of when the next of them is due (stale entries skipped)."""

    def __init__(self) -> None:
        self.by_id: dict[UUID, SagaState] = {}
        self.by_status: Counter[str] = Counter()  # kept as instances change, for the metrics
        self._due: list[tuple[datetime, UUID]] = []

    def get(self, saga_id: UUID) -> SagaState | None:
        return self.by_id.get(saga_id)

    def put(self, state: SagaState) -> None:
        if (before := self.by_id.get(state.saga_id)) is not None:
            self.by_status[before.status] -= 1
        self.by_status[state.status] += 1
        self.by_id[state.saga_id] = state
        if (due := state.next_due()) is not None:
            heapq.heappush(self._due, (due, state.saga_id))

    def due(self, now: datetime) -> list[UUID]:
        """The instances whose deadline or resend has come; each is handed out once until it sets another."""
        ready: list[UUID] = []
        while self._due and self._due[0][0] <= now:
            moment, saga_id = heapq.heappop(self._due)
            state = self.by_id.get(saga_id)
            if state is not None and state.next_due() == moment and saga_id not in ready:
                ready.append(saga_id)
        return ready


def load_instances(bootstrap: str, codec: AvroCodec, partitions: list[int]) -> dict[int, Instances]:
    """Fold each partition's saga events, in offset order, into its instances."""
    loaded = {partition: Instances() for partition in partitions}
    if not partitions:
        return loaded
    states: dict[int, dict[UUID, SagaState]] = {partition: {} for partition in partitions}
    for message in read_to_end(bootstrap, saga_events_topic(), partitions, timeout_s=None):
        try:
            record = record_to_saga_event(*codec.decode(message.value()))
        except (UndecodableMessage, KeyError, TypeError, ValueError) as error:
            log.warning("skipping saga event %s@%s: %s", message.partition(), message.offset(), error)
            continue
        of_partition = states[message.partition()]
        current = of_partition.get(record.saga_id) or SagaState(record.saga_id)
        if record.version == current.version + 1:  # a record seen twice (it never is, in one partition) is skipped
            of_partition[record.saga_id] = evolve(current, record)
    for partition, of_partition in states.items():
        for state in of_partition.values():
            loaded[partition].put(state)
    log.info("saga partitions %s loaded: %s instances", partitions, sum(len(s) for s in states.values()))
    return loaded
