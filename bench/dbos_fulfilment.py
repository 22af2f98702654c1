"""The sagas baseline: order fulfilment as a DBOS Transact workflow on PostgreSQL, behind POST /v1/orders.

It runs in a virtualenv of its own (bench/dbos_venv.py): DBOS 3.4.0 needs croniter >= 6.2.4, which Faust's `mode`
refuses, so it imports nothing of ours that reaches Faust, Kafka or the domain; SQLAlchemy and DBOS only inside
functions, so the bench can read this module's names from Streamkeep's own environment.
"""

import argparse
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4, uuid5

import psycopg
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import BaseModel, ConfigDict, Field

from infra.http.body_limit import BodyLimit
from infra.runtime.gc_tuning import collect_rarely

DATABASE = "streamkeep_dbos"
# The observer reads this table, as it reads order_summary for Streamkeep.
ORDERS_TABLE = "orders"
WORKFLOW = "fulfil_order"
# Every step's statements keep the rows right under READ COMMITTED (a guarded UPDATE takes the row lock and
# re-checks its condition), so DBOS's default SERIALIZABLE would only add retries on the hot stock rows.
ISOLATION = "READ COMMITTED"
# Connections of the datasource and of DBOS's system database: a workflow holds one of each at most at a time.
POOL_SIZE = 20

TABLES = """
CREATE TABLE IF NOT EXISTS orders (
    order_id uuid PRIMARY KEY, customer_id uuid NOT NULL, status text NOT NULL, currency text NOT NULL,
    total_cents bigint NOT NULL, lines jsonb NOT NULL, reason text,
    placed_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS stock (sku text PRIMARY KEY, on_hand bigint NOT NULL, reserved bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS reservations (
    order_id uuid NOT NULL, sku text NOT NULL, quantity bigint NOT NULL, PRIMARY KEY (order_id, sku));
CREATE TABLE IF NOT EXISTS payments (
    payment_id uuid PRIMARY KEY, order_id uuid NOT NULL, amount_cents bigint NOT NULL, currency text NOT NULL,
    status text NOT NULL);
CREATE TABLE IF NOT EXISTS shipments (
    shipment_id uuid PRIMARY KEY, order_id uuid NOT NULL, lines jsonb NOT NULL, status text NOT NULL);
"""


def dbos_conninfo(database_url: str) -> str:
    """The baseline's own database on the server DATABASE_URL names (libpq), for the bench's observer."""
    return make_conninfo(database_url, dbname=DATABASE)


def dbos_database_url(database_url: str) -> str:
    """The same database as a SQLAlchemy URL for psycopg 3, which DBOS and its datasource take."""
    parts = conninfo_to_dict(database_url)
    user = quote(str(parts.get("user", "")), safe="")
    password = f":{quote(str(parts['password']), safe='')}" if parts.get("password") else ""
    host, port = parts.get("host", "127.0.0.1"), parts.get("port", "5432")
    return f"postgresql+psycopg://{user}{password}@{host}:{port}/{DATABASE}"


def ensure_database(database_url: str) -> None:
    """Create the baseline's database beside Streamkeep's (the DATABASE_URL role may create databases)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def recreate_database(database_url: str) -> None:
    """A new, empty database for each run: workflows a previous run left pending would otherwise be recovered
    by DBOS at launch and run alongside the measured ones."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    ensure_database(database_url)


def totals_by_sku(lines: list[dict[str, Any]]) -> dict[str, int]:
    """One reservation per SKU and order, as Streamkeep's saga makes: lines of one SKU add up."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line["sku"]] = totals.get(line["sku"], 0) + line["quantity"]
    return totals


class FulfilmentSteps:
    """The state changes of each step, each one DBOS transaction (its checkpoint commits with it)."""

    def __init__(self, datasource: Any) -> None:
        import sqlalchemy

        self._ds = datasource
        self._text = sqlalchemy.text
        tx = partial(datasource.transaction, isolation_level=ISOLATION)
        self.place_order = tx(name="place_order")(self._place_order)
        self.reserve_stock = tx(name="reserve_stock")(self._reserve_stock)
        self.release_stock = tx(name="release_stock")(self._release_stock)
        self.commit_stock = tx(name="commit_stock")(self._commit_stock)
        self.authorise_payment = tx(name="authorise_payment")(self._authorise_payment)
        self.set_payment = tx(name="set_payment")(self._set_payment)
        self.schedule_shipment = tx(name="schedule_shipment")(self._schedule_shipment)
        self.end_order = tx(name="end_order")(self._end_order)
        self.restock = tx(name="restock")(self._restock)

    def _run(self, sql: str, **params: Any) -> Any:
        return self._ds.sql_session().execute(self._text(sql), params)

    def _place_order(self, order: dict[str, Any]) -> None:
        total = sum(line["quantity"] * line["unit_price_cents"] for line in order["lines"])
        self._run(
            "INSERT INTO orders (order_id, customer_id, status, currency, total_cents, lines)"
            " VALUES (:order_id, :customer_id, 'placed', :currency, :total, CAST(:lines AS jsonb))",
            order_id=order["order_id"],
            customer_id=order["customer_id"],
            currency=order["currency"],
            total=total,
            lines=json.dumps(order["lines"]),
        )

    def _reserve_stock(self, order_id: str, sku: str, quantity: int) -> bool:
        held = self._run(
            "UPDATE stock SET reserved = reserved + :q WHERE sku = :sku AND on_hand - reserved >= :q RETURNING sku",
            q=quantity,
            sku=sku,
        ).first()
        if held is None:
            return False
        self._run("INSERT INTO reservations VALUES (:order_id, :sku, :q)", order_id=order_id, sku=sku, q=quantity)
        return True

    def _release_stock(self, order_id: str, sku: str) -> None:
        self._take_reservation(order_id, sku, "reserved = reserved - :q")

    def _commit_stock(self, order_id: str, sku: str) -> None:
        self._take_reservation(order_id, sku, "reserved = reserved - :q, on_hand = on_hand - :q")

    def _take_reservation(self, order_id: str, sku: str, change: str) -> None:
        held = self._run(
            "DELETE FROM reservations WHERE order_id = :order_id AND sku = :sku RETURNING quantity",
            order_id=order_id,
            sku=sku,
        ).first()
        if held is not None:
            self._run(f"UPDATE stock SET {change} WHERE sku = :sku", q=held[0], sku=sku)

    def _authorise_payment(self, order_id: str) -> tuple[str, bool]:
        """Create the payment with the gateway's answer: one step, as the brief of the baseline has it."""
        payment_id = str(uuid5(UUID(order_id), "payment"))
        approved = simulated_gateway(payment_id) == "approve"
        self._run(
            "INSERT INTO payments SELECT :payment_id, order_id, total_cents, currency, :status"
            " FROM orders WHERE order_id = :order_id",
            payment_id=payment_id,
            order_id=order_id,
            status="authorised" if approved else "declined",
        )
        return payment_id, approved

    def _set_payment(self, payment_id: str, status: str) -> None:
        self._run("UPDATE payments SET status = :status WHERE payment_id = :id", status=status, id=payment_id)

    def _schedule_shipment(self, order_id: str, lines: list[dict[str, Any]]) -> None:
        self._run(
            "INSERT INTO shipments VALUES (:shipment_id, :order_id, CAST(:lines AS jsonb), 'scheduled')",
            shipment_id=str(uuid5(UUID(order_id), "shipment")),
            order_id=order_id,
            lines=json.dumps([{"sku": line["sku"], "quantity": line["quantity"]} for line in lines]),
        )

    def _end_order(self, order_id: str, status: str, reason: str | None = None) -> None:
        self._run(
            "UPDATE orders SET status = :status, reason = :reason, updated_at = now() WHERE order_id = :order_id",
            status=status,
            reason=reason,
            order_id=order_id,
        )

    def _restock(self, sku: str, quantity: int) -> None:
        self._run(
            "INSERT INTO stock (sku, on_hand) VALUES (:sku, :q)"
            " ON CONFLICT (sku) DO UPDATE SET on_hand = stock.on_hand + EXCLUDED.on_hand",
            sku=sku,
            q=quantity,
        )


def register_fulfilment(steps: FulfilmentSteps) -> Callable[[dict[str, Any]], str]:
    """The workflow, registered with DBOS (before launch) under the name WORKFLOW; it answers how it ended."""
    from dbos import DBOS

    @DBOS.workflow(name=WORKFLOW)
    def fulfil_order(order: dict[str, Any]) -> str:
        order_id = order["order_id"]
        steps.place_order(order)
        reserved: list[str] = []
        for sku, quantity in totals_by_sku(order["lines"]).items():
            if not steps.reserve_stock(order_id, sku, quantity):
                return _compensate(steps, order_id, reserved, "stock-available")
            reserved.append(sku)
        payment_id, approved = steps.authorise_payment(order_id)
        if not approved:
            return _compensate(steps, order_id, reserved, "payment-declined")
        steps.schedule_shipment(order_id, order["lines"])
        steps.end_order(order_id, "confirmed")  # the point of no return, as in Streamkeep's saga
        for sku in reserved:
            steps.commit_stock(order_id, sku)
        steps.set_payment(payment_id, "captured")
        return "completed"

    return fulfil_order


def simulated_gateway(payment_id: str) -> str:
    """Streamkeep's simulated gateway approves unless scripted, and the bench never scripts it; in process, it
    needs no step of its own (its answer is recorded with the payment, in the same transaction)."""
    return "approve"


def _compensate(steps: FulfilmentSteps, order_id: str, reserved: list[str], why: str) -> str:
    """Before the payment is authorised, only stock can be held: release it and reject the order."""
    for sku in reversed(reserved):
        steps.release_stock(order_id, sku)
    steps.end_order(order_id, "rejected", why)
    return "compensated"


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0)
    unit_price_cents: int = Field(ge=0)


class PlaceOrderIn(BaseModel):
    """The body Streamkeep's POST /v1/orders takes (commands/orders_http.py), checked as strictly."""

    model_config = ConfigDict(extra="forbid")

    order_id: UUID | None = None
    customer_id: UUID
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    lines: list[OrderLineIn] = Field(min_length=1)


class Restock(BaseModel):
    quantity: int = Field(gt=0)


def create_dbos_app(database_url: str, pool_size: int = POOL_SIZE) -> FastAPI:
    """POST /v1/orders starts the workflow (durably, under the order's id) and answers 201 at once."""
    from dbos import DBOS, DBOSConfig, SetWorkflowID, SQLAlchemyDatasource

    url = dbos_database_url(database_url)
    config: DBOSConfig = {
        "name": "streamkeep-bench-fulfilment",
        "system_database_url": url,
        "sys_db_pool_size": pool_size,
        "log_level": "WARNING",
    }
    DBOS(config=config)
    datasource = SQLAlchemyDatasource.create(url, engine_kwargs={"pool_size": pool_size, "max_overflow": 0})
    with datasource.engine.begin() as conn:
        conn.exec_driver_sql(TABLES)
    steps = FulfilmentSteps(datasource)
    fulfil_order = register_fulfilment(steps)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        DBOS.launch()
        try:
            yield
        finally:
            DBOS.destroy()

    app = FastAPI(title="Streamkeep sagas baseline (DBOS Transact on PostgreSQL)", lifespan=lifespan)
    app.add_middleware(BodyLimit)

    @app.post("/v1/orders", status_code=201)
    def place_order(body: PlaceOrderIn) -> JSONResponse:
        order_id = str(body.order_id or uuid4())
        order = {
            "order_id": order_id,
            "customer_id": str(body.customer_id),
            "currency": body.currency,
            "lines": [line.model_dump() for line in body.lines],
        }
        with SetWorkflowID(order_id):
            DBOS.start_workflow(fulfil_order, order)
        answer = {"order_id": order_id, "version": 1, "consistency_token": f"dbos:{order_id}"}
        return JSONResponse(answer, status_code=201, headers={"Location": f"/v1/orders/{order_id}"})

    @app.post("/v1/inventory/{sku}/restock")
    def restock(sku: str, body: Restock) -> JSONResponse:
        steps.restock(sku, body.quantity)
        return JSONResponse({"sku": sku})

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        return JSONResponse({"status": "ready", "backend": "dbos"})

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--database-url", required=True, help="Streamkeep's DATABASE_URL; the baseline uses its server")
    parser.add_argument("--pool-size", type=int, default=POOL_SIZE, help="connections of each of the two pools")
    args = parser.parse_args()
    ensure_database(args.database_url)
    app = create_dbos_app(args.database_url, args.pool_size)
    collect_rarely()  # as `serve` does
    # The same log level as `streamkeep serve`, access log included: like for like.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()
