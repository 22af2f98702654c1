"""A processor's aggregate store keeps every aggregate, decoded or as bytes, and never drops an unsaved change."""

from datetime import datetime, timezone

from domain.inventory import StockItem
from infra.write_side.aggregate_store import AggregateStore
from infra.write_side.snapshot_codec import SnapshotCodec

AT = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)
CODEC = SnapshotCodec()


def stock_item(sku: str, quantity: int = 1) -> StockItem:
    item = StockItem.register(sku, AT)
    item.restock(quantity, AT)
    item.collect_events()
    return item


def saved(store: AggregateStore, item: StockItem) -> None:
    store.put(item)
    store.saved(item.id, CODEC.encode(item, events_offset=0))


def test_trimmed_aggregates_come_back_from_their_snapshot_bytes() -> None:
    store = AggregateStore(CODEC, keep_decoded=2)
    items = [stock_item(f"SKU-{n}", n + 1) for n in range(5)]
    for item in items:
        saved(store, item)

    store.trim()

    assert len(store) == 5
    assert [store.get(item.id) for item in items] == items


def test_an_unsaved_change_is_never_trimmed_away() -> None:
    store = AggregateStore(CODEC, keep_decoded=1)
    first, second = stock_item("SKU-A"), stock_item("SKU-B")
    saved(store, first)
    first.restock(5, AT)
    first.collect_events()
    store.put(first)  # changed, its new snapshot not written yet
    saved(store, second)

    store.trim()

    assert store.get(first.id).on_hand == 6


def test_snapshots_loaded_from_the_topic_are_decoded_on_first_use() -> None:
    store = AggregateStore(CODEC)
    item = stock_item("SKU-C", 3)
    store.load_snapshot(item.id, CODEC.encode(item, events_offset=7))

    assert store.get(item.id) == item
    assert store.get(stock_item("SKU-D").id) is None
