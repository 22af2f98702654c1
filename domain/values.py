"""Value objects shared by the order-fulfilment contexts."""

from dataclasses import dataclass

# Orders are priced and payments taken in these currencies only.
SUPPORTED_CURRENCIES = frozenset({"EUR", "USD", "GBP", "CHF", "SEK", "DKK", "NOK", "PLN", "JPY"})


@dataclass(frozen=True)
class OrderLine:
    """One line of an order: how many of a SKU, at what unit price."""

    sku: str
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents

    def as_dict(self) -> dict[str, object]:
        return {"sku": self.sku, "quantity": self.quantity, "unit_price_cents": self.unit_price_cents}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "OrderLine":
        return cls(str(data["sku"]), int(data["quantity"]), int(data["unit_price_cents"]))  # type: ignore[call-overload]


@dataclass(frozen=True)
class ShipmentLine:
    """One line of a shipment: how many of a SKU leave together."""

    sku: str
    quantity: int

    def as_dict(self) -> dict[str, object]:
        return {"sku": self.sku, "quantity": self.quantity}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "ShipmentLine":
        return cls(str(data["sku"]), int(data["quantity"]))  # type: ignore[call-overload]
