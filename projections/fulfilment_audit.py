"""The fulfilment's invariants across the contexts' read models; each violation is one line that names it."""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from domain.inventory import stock_item_id

Row = dict[str, Any]
FINISHED = ("completed", "compensated")


def violations(
    sagas: Iterable[Row],
    orders: Iterable[Row],
    stock_levels: Iterable[Row],
    reservations: Iterable[Row],
    payments: Iterable[Row],
    shipments: Iterable[Row],
) -> list[str]:
    """Rows of saga_instances, order_summary, inventory_levels, stock_reservations, payment_summary and
    shipment_summary; the read models must be caught up with each other for the answer to mean anything."""
    stock_levels = list(stock_levels)
    saga_of = {str(row["order_id"]): row for row in sagas}
    order_of = {str(row["order_id"]): row for row in orders}
    held_by_order: dict[str, list[Row]] = defaultdict(list)
    for row in reservations:
        held_by_order[str(row["order_id"])].append(row)
    payments_of, shipments_of = _by_order(payments), _by_order(shipments)
    found = _stock_held_is_reserved(stock_levels, [r for rows in held_by_order.values() for r in rows])
    sku_of = {str(row["item_id"]): row["sku"] for row in stock_levels}
    for order_id, saga in saga_of.items():
        order, held = order_of.get(order_id), held_by_order.get(order_id, [])
        status = order["status"] if order else "unknown"
        for row in held:
            if row["held"] and saga["status"] in FINISHED:
                sku = sku_of.get(str(row["item_id"]), row["item_id"])
                found.append(f"order {order_id}: {row['held']} of {sku} still held, its fulfilment {saga['status']}")
        for payment in payments_of.get(order_id, []):
            kept = payment["captured_cents"] - payment["refunded_cents"]
            if kept > 0 and status in ("rejected", "cancelled"):
                found.append(f"order {order_id} is {status} but payment {payment['payment_id']} keeps {kept} cents")
            if payment["status"] == "authorised" and saga["status"] == "compensated":
                found.append(f"order {order_id}: payment {payment['payment_id']} left authorised after compensation")
        if saga["status"] == "completed":
            found += _fulfilled(order_id, order, held, payments_of.get(order_id, []), shipments_of.get(order_id, []))
        elif saga["status"] == "compensated" and status not in ("rejected", "cancelled"):
            found.append(f"order {order_id} is {status} although its fulfilment was compensated")
    return sorted(found)


def _stock_held_is_reserved(stock_levels: list[Row], reservations: list[Row]) -> list[str]:
    held: dict[str, int] = defaultdict(int)
    for row in reservations:
        held[str(row["item_id"])] += row["held"]
    return [
        f"SKU {level['sku']}: {level['reserved']} reserved, but the orders hold {held.get(str(level['item_id']), 0)}"
        for level in stock_levels
        if level["reserved"] != held.get(str(level["item_id"]), 0)
    ]


def _fulfilled(order_id: str, order: Row | None, held: list[Row], payments: list[Row], shipments: list[Row]) -> list:
    found = []
    if order is None or order["status"] != "confirmed":
        found.append(f"order {order_id} is {order['status'] if order else 'unknown'} though its fulfilment completed")
    committed = {str(row["item_id"]) for row in held if row["status"] == "committed"}
    for line in order["lines"] if order else []:
        if str(stock_item_id(line["sku"])) not in committed:
            found.append(f"order {order_id} is confirmed but its {line['sku']} was never committed")
    if not any(p["captured_cents"] > 0 for p in payments):
        found.append(f"order {order_id} is confirmed but no payment was captured")
    if not any(s["status"] in ("scheduled", "dispatched") for s in shipments):
        found.append(f"order {order_id} is confirmed but no shipment is scheduled")
    return found


def _by_order(rows: Iterable[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[str(row["order_id"])].append(row)
    return grouped
