"""How a rebuild splits partitions between processes: only read models whose rows follow one aggregate."""

from types import SimpleNamespace

from infra.read_side.rebuild_shares import shares_for
from infra.runtime.share_processes import PARALLEL_MIN_EVENTS
from projections import daily_sales, order_summary

ENDS = {0: 400_000, 1: 300_000, 2: 200_000, 3: 100_000}


def test_rows_that_follow_an_aggregate_are_split_round_robin_over_the_partitions() -> None:
    assert shares_for(order_summary, {}, ENDS, 2) == [(0, 2), (1, 3)]
    assert shares_for(order_summary, {}, ENDS, 8) == [(0,), (1,), (2,), (3,)]


def test_rows_summed_across_partitions_are_built_by_one_process_whatever_is_asked() -> None:
    assert shares_for(daily_sales, {}, ENDS, 4) == [(0, 1, 2, 3)]


def test_a_projection_that_does_not_say_is_built_by_one_process() -> None:
    assert shares_for(SimpleNamespace(NAME="unknown"), {}, ENDS, 4) == [(0, 1, 2, 3)]


def test_a_resumed_rebuild_splits_only_the_partitions_still_behind() -> None:
    starts = {0: 400_000, 1: 1, 2: 5, 3: 0}
    assert shares_for(order_summary, starts, ENDS, 2) == [(1, 3), (2,)]


def test_left_to_itself_it_uses_processes_only_for_a_long_history(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert shares_for(order_summary, {}, ENDS, None) == [(0, 2), (1, 3)]
    small = {p: (PARALLEL_MIN_EVENTS - 1) // 4 for p in range(4)}
    assert shares_for(order_summary, {}, small, None) == [(0, 1, 2, 3)]
