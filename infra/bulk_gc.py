"""Garbage-collector settings for processes that decode a stream of events in bulk (rebuild and replay shares)."""

import gc

# Python's default collects the youngest generation every 700 net allocations, and every tenth of those also
# walks the objects that survived, such as a whole decoded batch waiting for PostgreSQL. Decoding makes several
# objects per event, nearly all freed by reference counting, so most of those walks find nothing to free.
YOUNG_THRESHOLD = 50_000


def tune_for_bulk_decoding() -> None:
    """Collect rarely, and never walk what was loaded before the stream started (modules, schemas, clients)."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)
