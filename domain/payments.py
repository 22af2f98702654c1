"""The payment aggregate: one request to charge an order, the gateway's answer, and the money moved after."""

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import RuleBroken
from domain.values import SUPPORTED_CURRENCIES


class Payment(Aggregate):
    """A payment for an order; the gateway's answers come in as plain values, the domain never calls out."""

    class Requested(Aggregate.Created):
        order_id: UUID
        amount_cents: int
        currency: str

    class Authorised(Aggregate.Event):
        authorisation_code: str

        def apply(self, aggregate: "Payment") -> None:
            aggregate.status = "authorised"
            aggregate.authorisation_code = self.authorisation_code

    class Declined(Aggregate.Event):
        reason: str

        def apply(self, aggregate: "Payment") -> None:
            aggregate.status = "declined"

    class Captured(Aggregate.Event):
        amount_cents: int

        def apply(self, aggregate: "Payment") -> None:
            aggregate.status = "captured"
            aggregate.captured_cents = self.amount_cents

    class Voided(Aggregate.Event):
        def apply(self, aggregate: "Payment") -> None:
            aggregate.status = "voided"

    class Refunded(Aggregate.Event):
        amount_cents: int

        def apply(self, aggregate: "Payment") -> None:
            aggregate.refunded_cents += self.amount_cents
            if aggregate.refunded_cents == aggregate.captured_cents:
                aggregate.status = "refunded"

    def __init__(self, order_id: UUID, amount_cents: int, currency: str) -> None:
        self.order_id = order_id
        self.amount_cents = amount_cents
        self.currency = currency
        self.status = "requested"
        self.authorisation_code: str | None = None
        self.captured_cents = 0
        self.refunded_cents = 0

    @classmethod
    def request(cls, payment_id: UUID, order_id: UUID, amount_cents: int, currency: str, at: datetime) -> "Payment":
        _check_amount(amount_cents)
        if currency not in SUPPORTED_CURRENCIES:
            raise RuleBroken("currency-supported", f"currency {currency!r} is not one we take payments in", "currency")
        return cls._create(
            cls.Requested, id=payment_id, timestamp=at, order_id=order_id, amount_cents=amount_cents, currency=currency
        )

    def authorise(self, authorisation_code: str, at: datetime) -> None:
        self._require("requested", "payment-awaiting-answer", "authorised")
        if not authorisation_code:
            raise RuleBroken("authorisation-code-given", "an approval needs the gateway's code", "authorisation_code")
        self.trigger_event(self.Authorised, timestamp=at, authorisation_code=authorisation_code)

    def decline(self, reason: str, at: datetime) -> None:
        self._require("requested", "payment-awaiting-answer", "declined")
        self.trigger_event(self.Declined, timestamp=at, reason=reason)

    def capture(self, at: datetime) -> None:
        self._require("authorised", "payment-capturable", "captured")
        self.trigger_event(self.Captured, timestamp=at, amount_cents=self.amount_cents)

    def void(self, at: datetime) -> None:
        # Once captured the money has moved: only a refund gives it back.
        self._require("authorised", "payment-voidable", "voided")
        self.trigger_event(self.Voided, timestamp=at)

    def refund(self, amount_cents: int, at: datetime) -> None:
        self._require("captured", "payment-refundable", "refunded")
        _check_amount(amount_cents)
        if self.refunded_cents + amount_cents > self.captured_cents:
            left = self.captured_cents - self.refunded_cents
            raise RuleBroken("refund-within-captured", f"only {left} cents are left to refund", "amount_cents")
        self.trigger_event(self.Refunded, timestamp=at, amount_cents=amount_cents)

    def _require(self, status: str, rule: str, becoming: str) -> None:
        if self.status != status:
            raise RuleBroken(rule, f"a payment that is {self.status} cannot be {becoming}", "status")


def _check_amount(amount_cents: int) -> None:
    if amount_cents <= 0:
        raise RuleBroken("amount-positive", "amount_cents must be more than 0", "amount_cents")
