"""Checks an ack log against Kafka: every acknowledged (order id, version) is in orders.events exactly once."""

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from infra.kafka.reader import read_to_end
from infra.kafka.topics import events_topic
from infra.registry.deploy import connect_codec
from infra.settings import Settings, load_settings

Ack = tuple[str, int]


@dataclass(frozen=True)
class AckCheck:
    checked: int
    missing: list[Ack]
    duplicated: list[Ack]
    refused_with_events: list[str] = field(default_factory=list)  # refused commands' ids found in the topic

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated and not self.refused_with_events


def read_ack_log(path: Path) -> set[Ack]:
    acks = set()
    for line in path.read_text().splitlines():
        order_id, version = line.split()
        acks.add((order_id, int(version)))
    return acks


def check_acks(
    settings: Settings, acks: set[Ack], context: str = "orders", refused: frozenset[str] = frozenset()
) -> AckCheck:
    """Read the events topic read_committed and count each acknowledged (aggregate id, version) in it; an
    aggregate id in `refused` (commands the API refused) must have no event at all."""
    codec = connect_codec(settings.schema_registry_url, settings.schemas_dir, settings.event_store)
    acked_ids = {order_id.encode() for order_id, _ in acks}
    refused_ids = {order_id.encode() for order_id in refused}
    found: Counter[Ack] = Counter()
    refused_found: set[str] = set()
    for message in read_to_end(settings.kafka_bootstrap_servers, events_topic(context)):
        key = message.key() or b""
        if key in refused_ids:
            refused_found.add(key.decode())
        if key in acked_ids:  # events are keyed by aggregate id: decode only the ones we look for
            record = codec.decode(message.value())[1]
            found[(str(record["aggregate_id"]), record["version"])] += 1
    return AckCheck(
        checked=len(acks),
        missing=sorted(ack for ack in acks if not found[ack]),
        duplicated=sorted(ack for ack in acks if found[ack] > 1),
        refused_with_events=sorted(refused_found),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ack-log", type=Path, required=True, help="the file `streamkeep bench --ack-log` wrote")
    result = check_acks(load_settings(), read_ack_log(parser.parse_args().ack_log))
    print(f"{result.checked} acknowledged; missing {len(result.missing)}; duplicated {len(result.duplicated)}")
    for order_id, version in [*result.missing, *result.duplicated][:20]:
        print(f"  {order_id} {version}")
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
