"""Garbage-collector settings for Streamkeep's processes: collect rarely, never walk what start-up loaded."""

import gc

# Python's default collects the youngest generation every 700 net allocations, and every tenth of those also
# walks the objects that survived: a decoded batch waiting for PostgreSQL, a command processor's aggregates, the
# API's waiting requests. Requests and events make many objects that reference counting alone frees, so most of
# those walks free nothing (docs/benchmarks.md, session 6: rebuild 1.28x; commands +10-40%, their p99 halved).
YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLD = 20


def collect_rarely() -> None:
    """For a process about to do its real work: what exists now (modules, schemas, clients) is never walked."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)
