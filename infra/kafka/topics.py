"""The Kafka topics each bounded context owns, and creating them (Faust does not create source topics)."""

import stamina
from confluent_kafka.admin import AdminClient, NewTopic

from infra.kafka.transient import transient

CONTEXTS = ("orders", "inventory", "payments", "shipping")
# Scripts for the simulated payment gateway and the requests it answers, in one order: one partition.
GATEWAY_TOPIC = "payments.gateway"

# The events topics are the system of record: never delete by age.
KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}
WEEK_MS = str(7 * 24 * 3600 * 1000)


def commands_topic(context: str) -> str:
    return f"{context}.commands"


def events_topic(context: str) -> str:
    return f"{context}.events"


def outcomes_topic(context: str) -> str:
    return f"{context}.outcomes"


def snapshots_topic(context: str) -> str:
    return f"{context}.snapshots"


# Each saga type's topics are keyed by saga id (= the order's id) and have as many partitions as the contexts'
# topics: with the default partitioner an order's commands, events, and its saga's events, replies and operator
# commands all fall in one partition number, so one saga runner owns all of an instance's messages.
SAGA_TYPES = ("fulfilment",)


def saga_events_topic(saga_type: str = "fulfilment") -> str:
    return f"{saga_type}.events"


def saga_replies_topic(saga_type: str = "fulfilment") -> str:
    return f"{saga_type}.replies"


def saga_commands_topic(saga_type: str = "fulfilment") -> str:
    return f"{saga_type}.commands"


def topic_configs() -> dict[str, dict[str, str]]:
    """Every topic we own with its config; commands, events and outcomes are co-partitioned by aggregate id."""
    configs: dict[str, dict[str, str]] = {}
    for context in CONTEXTS:
        configs[commands_topic(context)] = {"retention.ms": WEEK_MS}
        configs[events_topic(context)] = dict(KEEP_FOREVER)
        configs[outcomes_topic(context)] = {"retention.ms": WEEK_MS}
        # The latest snapshot per aggregate is all a command processor needs to load: compact, never expire.
        configs[snapshots_topic(context)] = {"cleanup.policy": "compact", **KEEP_FOREVER}
        # Dead letters wait for a person to look at them: kept as long as the events they came from.
        configs[f"{events_topic(context)}.dlq"] = dict(KEEP_FOREVER)
    for saga_type in SAGA_TYPES:
        # A saga instance's events are its only state: kept like the contexts' events.
        configs[saga_events_topic(saga_type)] = dict(KEEP_FOREVER)
        # The saga_instances read model dead-letters what it cannot read, as the contexts' models do.
        configs[f"{saga_events_topic(saga_type)}.dlq"] = dict(KEEP_FOREVER)
        configs[saga_replies_topic(saga_type)] = {"retention.ms": WEEK_MS}
        configs[saga_commands_topic(saga_type)] = {"retention.ms": WEEK_MS}
    # The gateway adapter rebuilds its script by reading this topic from the start: keep it.
    configs[GATEWAY_TOPIC] = dict(KEEP_FOREVER)
    return configs


def partitions_of(topic: str, default: int) -> int:
    return 1 if topic == GATEWAY_TOPIC else default


def ensure_topics(bootstrap_servers: str, partitions: int, timeout_s: float = 30.0) -> list[str]:
    """Create the topics that are missing; returns the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    missing = [
        NewTopic(name, num_partitions=partitions_of(name, partitions), replication_factor=-1, config=config)
        for name, config in topic_configs().items()
        if name not in existing
    ]
    created = admin.create_topics(missing, operation_timeout=timeout_s, request_timeout=timeout_s) if missing else {}
    for future in created.values():
        try:
            future.result()
        except Exception as error:  # a concurrent creator may have won the race
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise
    _wait_for_leaders(admin, list(topic_configs()), timeout_s)
    return [topic.topic for topic in missing]


class LeadersPending(Exception):
    """Some topics have no leader yet (or are not in the metadata yet); the message names them."""


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    """A topic just created (by us or a process starting beside us) answers "not leader" until it has leaders:
    asked again, backing off, until `timeout_s` has passed."""
    # Decorated here, as the bound is the caller's; stamina names the retries after the function decorated.
    asking = stamina.retry(
        on=_pending_or_transient, attempts=None, timeout=timeout_s, wait_initial=0.1, wait_max=1.0, wait_jitter=0.1
    )
    try:
        asking(_leaders_elected)(admin, names, timeout_s)
    except LeadersPending as pending:
        raise TimeoutError(f"Kafka topics without a leader after {timeout_s:g} s: {pending}") from None


def _pending_or_transient(error: Exception) -> bool:
    return isinstance(error, LeadersPending) or transient(error)


def _leaders_elected(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    topics = admin.list_topics(timeout=timeout_s).topics
    leaderless = [
        name for name in names if name not in topics or any(p.leader < 0 for p in topics[name].partitions.values())
    ]
    if leaderless:
        raise LeadersPending(", ".join(leaderless))
