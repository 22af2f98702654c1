"""Every read model, by name: the one list the runners, the CLI and the embedded backend iterate."""

from types import ModuleType

from projections import (
    customer_orders,
    daily_sales,
    inventory_levels,
    order_summary,
    payment_summary,
    saga_instances,
    shipment_summary,
    stock_reservations,
)

PROJECTIONS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        order_summary,
        customer_orders,
        inventory_levels,
        daily_sales,
        # What the fulfilment audit reads besides the orders and the stock levels.
        stock_reservations,
        payment_summary,
        shipment_summary,
        # Saga instances, from the saga's own events.
        saga_instances,
    )
}


def reading(context: str) -> list[ModuleType]:
    """The read models built from one context's events."""
    return [module for module in PROJECTIONS.values() if module.CONTEXT == context]
