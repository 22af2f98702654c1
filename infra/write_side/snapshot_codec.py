"""Aggregate snapshots as bytes for the compacted `<context>.snapshots` topics, through eventsourcing's mapper."""

from typing import Any
from uuid import UUID

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, StoredEvent, Transcoding, UUIDAsHex

from domain.values import OrderLine, ShipmentLine


class _ValueAsDict(Transcoding):
    """A domain value object with as_dict/from_dict, stored as its dict."""

    def __init__(self, value_type: Any) -> None:
        self.type = value_type
        self.name = value_type.__name__

    def encode(self, obj: Any) -> dict[str, Any]:
        return dict(obj.as_dict())

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type.from_dict(data)


def _mapper() -> Mapper[UUID]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), _ValueAsDict(OrderLine), _ValueAsDict(ShipmentLine)):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


class SnapshotCodec:
    """Snapshot of an aggregate <-> (headers, value); internal state, so JSON rather than the public Avro."""

    def __init__(self) -> None:
        self._mapper = _mapper()

    def encode(self, aggregate: Any, events_offset: int) -> tuple[list[tuple[str, bytes]], bytes]:
        """`events_offset`: where the aggregate's last event is in its events partition."""
        stored = self._mapper.to_stored_event(Snapshot.take(aggregate))
        headers = [
            ("snapshot_topic", stored.topic.encode()),
            ("version", str(stored.originator_version).encode()),
            ("events_offset", str(events_offset).encode()),
        ]
        return headers, stored.state

    def decode(self, key: bytes, headers: list[tuple[str, bytes]], value: bytes) -> tuple[Any, int]:
        """The aggregate, and the offset of its last event in its events partition."""
        fields = dict(headers)
        stored = StoredEvent(
            originator_id=UUID(key.decode()),
            originator_version=int(fields["version"]),
            topic=fields["snapshot_topic"].decode(),
            state=value,
        )
        aggregate = self._mapper.to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]
        return aggregate, self.events_offset(headers)

    @staticmethod
    def events_offset(headers: list[tuple[str, bytes]]) -> int:
        """Where the snapshot's aggregate had its last event (-1 from snapshots that did not say)."""
        return int(dict(headers).get("events_offset", b"-1"))
