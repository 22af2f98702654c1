"""Which events of a batch a projection applies: those past its checkpoint, each position once, in order."""

from infra.read_side.projection_writer import PositionedEvent, _past


def _at(partition: int, offset: int) -> PositionedEvent:
    return PositionedEvent("orders.events", partition, offset, event=f"e{partition}@{offset}")


def test_events_at_or_below_the_checkpoint_are_skipped() -> None:
    batch = [_at(0, 4), _at(0, 5), _at(0, 6), _at(1, 0)]

    fresh = _past({("orders.events", 0): 5}, batch)

    assert [(p.partition, p.offset) for p in fresh] == [(0, 6), (1, 0)]


def test_a_partition_re_read_from_an_earlier_offset_within_one_batch_is_applied_once() -> None:
    # A batch that spans a rebalance: offsets 10..12 arrive, then the partition is read again from 11.
    batch = [_at(0, 10), _at(0, 11), _at(0, 12), _at(0, 11), _at(0, 12), _at(0, 13)]

    fresh = _past({}, batch)

    assert [p.offset for p in fresh] == [10, 11, 12, 13]


def test_order_within_each_partition_is_kept_whatever_the_interleaving() -> None:
    batch = [_at(1, 3), _at(0, 7), _at(1, 4), _at(0, 8)]

    fresh = _past({}, batch)

    assert [(p.partition, p.offset) for p in fresh] == [(0, 7), (0, 8), (1, 3), (1, 4)]
