"""A partition's aggregates in a command processor: every one as snapshot bytes, the busy ones decoded."""

from collections import OrderedDict
from typing import Any
from uuid import UUID

from infra.write_side.snapshot_codec import SnapshotCodec

Snapshot = tuple[list[tuple[str, bytes]], bytes]  # headers, value
# Decoded aggregates cost several times their snapshot's bytes: keep only the recently used ones.
KEEP_DECODED = 20_000


class AggregateStore:
    """Snapshot bytes for all aggregates, decoded objects for the most recently used.

    An aggregate changed by a decision stays decoded (it is "unsaved") until the snapshot written with its
    events is handed back through `saved`; only saved ones are ever let go, so nothing is lost.
    """

    def __init__(self, codec: SnapshotCodec, keep_decoded: int = KEEP_DECODED) -> None:
        self._codec = codec
        self._keep = keep_decoded
        self._snapshots: dict[UUID, Snapshot] = {}
        self._decoded: OrderedDict[UUID, Any] = OrderedDict()
        self._unsaved: set[UUID] = set()

    def __len__(self) -> int:
        return len(self._snapshots.keys() | self._decoded.keys())

    def get(self, aggregate_id: UUID) -> Any:
        aggregate = self._decoded.get(aggregate_id)
        if aggregate is not None:
            self._decoded.move_to_end(aggregate_id)
            return aggregate
        snapshot = self._snapshots.get(aggregate_id)
        if snapshot is None:
            return None
        aggregate, _ = self._codec.decode(str(aggregate_id).encode(), *snapshot)
        self._decoded[aggregate_id] = aggregate
        return aggregate

    def put(self, aggregate: Any) -> None:
        """A changed aggregate, held decoded until its new snapshot is saved."""
        self._decoded[aggregate.id] = aggregate
        self._decoded.move_to_end(aggregate.id)
        self._unsaved.add(aggregate.id)

    def load_snapshot(self, aggregate_id: UUID, snapshot: Snapshot) -> None:
        """A snapshot read from the topic: kept as bytes, decoded when first asked for."""
        self._snapshots[aggregate_id] = snapshot
        self._decoded.pop(aggregate_id, None)

    def saved(self, aggregate_id: UUID, snapshot: Snapshot) -> None:
        self._snapshots[aggregate_id] = snapshot
        self._unsaved.discard(aggregate_id)

    def trim(self) -> None:
        """Let the least recently used saved aggregates go back to bytes."""
        excess = len(self._decoded) - self._keep
        if excess <= 0:
            return
        victims = []
        for aggregate_id in self._decoded:  # oldest first
            if len(victims) == excess:
                break
            if aggregate_id not in self._unsaved:
                victims.append(aggregate_id)
        for aggregate_id in victims:
            del self._decoded[aggregate_id]
