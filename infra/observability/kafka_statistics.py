"""librdkafka's statistics (its `stats_cb`, every `statistics.interval.ms`) as our Prometheus gauges."""

import json
import logging
from typing import Any

from infra.observability.stream_metrics import (
    CONSUMER_LAG,
    KAFKA_BROKER_RTT,
    KAFKA_QUEUE_MESSAGES,
    KAFKA_TRANSACTION_STATE,
)

log = logging.getLogger(__name__)
# Often enough for a 15 s scrape, rarely enough that the JSON (a few KB per client) costs nothing noticeable.
STATISTICS_INTERVAL_MS = 5000


class KafkaStatistics:
    """The callback for one client (`client` names it in the labels, e.g. `streamkeep-commands-orders/producer`).

    librdkafka calls it from poll(), consume() or flush() on the thread that polls the client: the loop's own,
    between batches (a producer's also while a commit waits for its deliveries), never librdkafka's. A consumer's
    lag is the last stable offset less the stored offset (the position the loop has taken records up to,
    read_committed: transaction markers passed), which librdkafka tracks from its fetches: no request of our own.
    """

    def __init__(self, client: str, group: str = "") -> None:
        self._client = client
        self._group = group
        self._partitions: set[tuple[str, str]] = set()
        self._state = ""

    def config(self) -> dict[str, Any]:
        """The client settings that turn the statistics on and route them here."""
        return {"statistics.interval.ms": STATISTICS_INTERVAL_MS, "stats_cb": self}

    def __call__(self, stats_json: str) -> None:
        try:
            stats = json.loads(stats_json)
            self._brokers(stats.get("brokers", {}))
            KAFKA_QUEUE_MESSAGES.labels(self._client).set(stats.get("msg_cnt", 0))
            if self._group:
                self._lag(stats.get("topics", {}))
            if txn_state := stats.get("eos", {}).get("txn_state"):
                self._transaction_state(txn_state)
        except (ValueError, AttributeError, TypeError) as error:
            # A statistics format we do not know must not stop the loop that polls the client.
            log.warning("could not read librdkafka statistics of %s: %s", self._client, error)

    def _brokers(self, brokers: dict[str, Any]) -> None:
        for broker in brokers.values():
            if broker.get("nodeid", -1) >= 0:  # bootstrap and coordinator entries repeat a real broker
                rtt_us = broker.get("rtt", {}).get("avg", 0)
                KAFKA_BROKER_RTT.labels(self._client, str(broker["nodeid"])).set(rtt_us / 1e6)

    def _lag(self, topics: dict[str, Any]) -> None:
        seen = set()
        for topic, of_topic in topics.items():
            for partition, stats in of_topic.get("partitions", {}).items():
                lag = _lag_of(stats)
                if partition == "-1" or lag is None:
                    continue
                CONSUMER_LAG.labels(self._group, topic, partition).set(lag)
                seen.add((topic, partition))
        for topic, partition in self._partitions - seen:  # revoked: another member reports it now
            CONSUMER_LAG.remove(self._group, topic, partition)
        self._partitions = seen

    def _transaction_state(self, state: str) -> None:
        if state != self._state:
            if self._state:
                KAFKA_TRANSACTION_STATE.labels(self._client, self._state).set(0)
            KAFKA_TRANSACTION_STATE.labels(self._client, state).set(1)
            self._state = state


def loop_statistics(group: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A transactional loop's consumer and producer settings that turn their statistics on, named by `group`."""
    return KafkaStatistics(f"{group}/consumer", group).config(), KafkaStatistics(f"{group}/producer").config()


def _lag_of(partition: dict[str, Any]) -> int | None:
    """An assigned partition's lag: from the stored offset once the loop took a record, else from the committed
    one; with neither (a new group's partition nothing was read from yet), what lies past the fetch position plus
    what is fetched and not yet taken. None for a partition not assigned here."""
    if partition.get("fetch_state") in (None, "none", "stopped"):
        return None
    for key in ("consumer_lag_stored", "consumer_lag"):
        if (lag := partition.get(key, -1)) >= 0:
            return int(lag)
    end, fetched_to = partition.get("ls_offset", -1), partition.get("next_offset", -1)
    if end >= 0 and fetched_to >= 0:
        return max(0, end - fetched_to) + int(partition.get("fetchq_cnt", 0))
    return None
