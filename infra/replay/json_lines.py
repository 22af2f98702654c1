"""`replay --format json` from Kafka: each event one JSON line, formatted without building the line's dict and
written a poll's worth at a time."""

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TextIO

from infra.avro.codec import AvroCodec, UndecodableMessage
from infra.avro.message_mapping import EVENT_TYPES, matches_type
from infra.avro.views import ENVELOPE_TIME, json_lines_view
from infra.kafka.event_stream import Window, batches

# Microseconds since the epoch a datetime can hold (years 1 to 9999): what the timestamp-micros reader accepted.
_EARLIEST_US, _LATEST_US = -62_135_596_800_000_000, 253_402_300_799_999_999
_quoted = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def _data_encoder() -> Callable[[Any], str]:
    """What `json.dumps(value, default=str)` gives. JSONEncoder.encode builds the C encoder anew for every value;
    this builds it once (a quarter less time per line's data), with encode itself where the C encoder is missing.
    Records are trees, so no circularity check."""
    plain = json.JSONEncoder(default=str, check_circular=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    try:
        chunks = make(None, str, _quoted, None, plain.key_separator, plain.item_separator, False, False, True)  # type: ignore[misc]
    except TypeError:  # no C encoder, or one that takes other arguments
        return plain.encode
    return lambda value: "".join(chunks(value, 0))


class JsonLines:
    """Formats decoded events exactly as `json.dumps(line, default=str)` did for the line's dict."""

    def __init__(self, topic: str) -> None:
        self._topic = _quoted(topic)
        self._data = _data_encoder()
        self._names: dict[str, str] = {}
        self._last_ms: int | None = None
        self._stamp = ""

    def line(self, partition: int, offset: int, timestamp_ms: int, name: str, record: dict[str, Any]) -> str:
        """The event's line; takes the envelope fields out of `record` (the rest is the line's data)."""
        aggregate_id, version = str(record.pop("aggregate_id")), record.pop("version")
        occurred_us = record.pop(ENVELOPE_TIME)
        if not _EARLIEST_US <= occurred_us <= _LATEST_US:
            raise UndecodableMessage(f"{ENVELOPE_TIME} {occurred_us} is no time a timestamp-micros can hold")
        if timestamp_ms != self._last_ms:  # a batch's records mostly share their millisecond
            self._last_ms = timestamp_ms
            self._stamp = datetime.fromtimestamp(timestamp_ms / 1000, timezone.utc).isoformat()
        quoted_name = self._names.get(name) or self._names.setdefault(name, _quoted(name))
        return (
            f'{{"topic": {self._topic}, "partition": {partition}, "offset": {offset}, "timestamp": "{self._stamp}",'
            f' "type": {quoted_name}, "aggregate_id": {_quoted(aggregate_id)}, "version": {version},'
            f' "data": {self._data(record)}}}\n'
        )


def write_json_lines(
    bootstrap: str,
    codec: AvroCodec,
    topic: str,
    window: Window,
    out: TextIO,
    warn: Callable[[str], None],
    follow: bool = False,
    key: bytes | None = None,
    type_: str | None = None,
) -> None:
    """Print the window's events of `topic` as JSON lines; undecodable records and records of no event type of
    ours are skipped with a warning, as the other formats do."""
    viewed = codec.viewed(json_lines_view)
    lines = JsonLines(topic)
    for batch in batches(bootstrap, topic, window, follow):
        chunk = []
        for message in batch:
            if key is not None and message.key() != key:
                continue
            if type_ is not None:
                header = dict(message.headers() or ()).get("event_type")
                if header is not None and not matches_type(header.decode(), type_):
                    continue
            partition, offset = message.partition(), message.offset()
            try:
                name, record = viewed.decode(message.value())
                if not matches_type(name, type_):
                    continue
                if name not in EVENT_TYPES:
                    warn(f"skipping {partition}/{offset}: {name} is no event of ours")
                    continue
                chunk.append(lines.line(partition, offset, message.timestamp()[1], name, record))
            except UndecodableMessage as error:
                warn(f"skipping {partition}/{offset}: {error}")
        out.write("".join(chunk))
        if follow:
            out.flush()
