"""What a retry leaves behind: a count in streamkeep_retries_total and a log line, for every stamina retry."""

import logging

import stamina
from stamina.instrumentation import RetryDetails

from infra.observability.metrics import RETRIES

log = logging.getLogger("streamkeep.retries")


def operation_of(details: RetryDetails) -> str:
    """The retried function's name without our package root: `kafka.topics._leaders_elected`."""
    return details.name.removeprefix("infra.")


def count_and_log(details: RetryDetails) -> None:
    operation = operation_of(details)
    RETRIES.labels(operation).inc()
    # INFO: an expected hiccup; call sites that want an operator to look (a projection stalled) log it themselves.
    log.info(
        "retrying %s in %.2f s (retry %d): %s",
        operation,
        details.wait_for,
        details.retry_num,
        details.caused_by,
        extra={"operation": operation, "retry": details.retry_num},
    )


def instrument_retries() -> None:
    """Replace stamina's default hooks (its own stamina_retries_total, labelled by retry number, and a structlog
    line) with ours. Called where a process configures its logging; idempotent."""
    stamina.instrumentation.set_on_retry_hooks([count_and_log])
