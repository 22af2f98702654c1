"""The stream processors' Prometheus metrics: command processors, lag, projections, sagas, rebuilds, librdkafka."""

from prometheus_client import Counter, Gauge, Histogram

# A batch is at most 500 records (infra/kafka/transactions.py's BATCH_SIZE); a lone command is the common case.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)

COMMAND_BATCH_SIZE = Histogram(
    "streamkeep_command_batch_size",
    "Commands a command processor decided in one Kafka transaction, by context.",
    ["context"],
    buckets=BATCH_BUCKETS,
)
COMMAND_TRANSACTION_DURATION = Histogram(
    "streamkeep_command_transaction_duration_seconds",
    "From begin_transaction to the commit of a command processor's batch, by context.",
    ["context"],
)
COMMAND_TRANSACTION_ABORTS = Counter(
    "streamkeep_command_transaction_aborts_total",
    "Command processor transactions aborted (the batch is decided again after a rewind), by context.",
    ["context"],
)
COMMAND_PARTITION_LOAD = Histogram(
    "streamkeep_command_partition_load_seconds",
    "Time to rebuild the state of newly assigned (or rewound) partitions from Kafka, by context.",
    ["context"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
COMMANDS_DECIDED = Counter(
    "streamkeep_command_processor_commands_total",
    "Commands a command processor decided in a committed transaction, by context, type and outcome "
    "(accepted, rejected, conflict, not_found); a resend answered from the idempotency ledger is not counted again.",
    ["context", "type", "outcome"],
)
CONSUMER_LAG = Gauge(
    "streamkeep_consumer_lag",
    "Records not yet consumed, per consumer group and assigned partition (librdkafka statistics: the last "
    "stable offset less the position the processor has reached).",
    ["group", "topic", "partition"],
    multiprocess_mode="max",
)
PROJECTION_CHECKPOINT_LAG = Gauge(
    "streamkeep_projection_checkpoint_lag_events",
    "Events past a projection's checkpoint, summed over the partitions this worker projects, after its last batch.",
    ["projection"],
    multiprocess_mode="livesum",
)
PROJECTION_DEAD_LETTERS = Counter(
    "streamkeep_projection_dead_letters_total",
    "Events a projection refused and sent to the dead-letter topic, by projection.",
    ["projection"],
)
SAGA_INSTANCES = Gauge(
    "streamkeep_saga_instances",
    "Saga instances of the partitions this runner owns, by saga type and status.",
    ["saga_type", "status"],
    multiprocess_mode="livesum",
)
SAGA_STEP_DURATION = Histogram(
    "streamkeep_saga_step_duration_seconds",
    "From a saga step's command sent (its last attempt) to the answer received, by saga type and command type.",
    ["saga_type", "command_type"],
)
SAGA_DEADLINES_FIRED = Counter(
    "streamkeep_saga_deadlines_fired_total", "Saga deadlines reached, by saga type.", ["saga_type"]
)
SAGA_COMPENSATIONS = Counter(
    "streamkeep_saga_compensations_total", "Saga instances that began compensating, by saga type.", ["saga_type"]
)
SAGA_STUCK = Counter(
    "streamkeep_saga_stuck_total",
    "Saga instances that became stuck (an operator must act), by saga type.",
    ["saga_type"],
)
REBUILD_EVENTS_APPLIED = Gauge(
    "streamkeep_rebuild_events_applied",
    "Events a running rebuild has applied so far, by projection.",
    ["projection"],
    multiprocess_mode="livesum",
)
REBUILD_EVENTS_TOTAL = Gauge(
    "streamkeep_rebuild_events_total",
    "Events a running rebuild will apply in all, by projection.",
    ["projection"],
    multiprocess_mode="livesum",
)
KAFKA_BROKER_RTT = Gauge(
    "streamkeep_kafka_broker_rtt_seconds",
    "Average round trip of a Kafka client's requests to a broker over the last statistics interval "
    "(librdkafka's rtt.avg; 0 when no request was made).",
    ["client", "broker"],
    multiprocess_mode="max",
)
KAFKA_QUEUE_MESSAGES = Gauge(
    "streamkeep_kafka_queue_messages",
    "Messages in a Kafka client's queues (librdkafka's msg_cnt): for a producer, produced and not yet delivered.",
    ["client"],
    multiprocess_mode="livesum",
)
KAFKA_TRANSACTION_STATE = Gauge(
    "streamkeep_kafka_transaction_state",
    "1 for the state a transactional producer is in (librdkafka's eos.txn_state), 0 for the states it was in before.",
    ["client", "state"],
    multiprocess_mode="max",
)
