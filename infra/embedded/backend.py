"""The embedded backend: eventsourcing's SQLite persistence and in-process projections, files under one folder."""

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from commands import idempotency
from commands.gateway import answer_command, answer_envelope, authorisation_code_for
from commands.handlers import EXPECTED_VERSION, decide
from commands.idempotency import IdempotencyLedger, Remembered
from commands.messages import Command, Envelope, RequestPayment
from commands.outcomes import CONFLICT, Outcome
from domain.gateway import GatewayAnswer, GatewayScript
from infra.embedded.sagas import REPLY_TO as SAGA_REPLIES
from infra.embedded.sagas import EmbeddedSagas, SagaRecorded, SentReply, recorded_from
from infra.resilience.payment_gateway import asked_through, gateway_breaker
from infra.settings import BreakerSettings
from projections.catalogue import PROJECTIONS
from projections.consistency import EMBEDDED
from sagas.policy import SagaPolicy

PROJECTION_BATCH = 500


class OrderFulfilment(Application[UUID]):
    """The event store of the embedded backend: every context's aggregates in one SQLite file."""

    name = "streamkeep"

    def get_aggregate(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None


class _Aggregates:
    def __init__(self, app: OrderFulfilment) -> None:
        self._app = app

    def get(self, aggregate_id: UUID) -> Any:
        return self._app.get_aggregate(aggregate_id)


def open_event_store(data_dir: Path) -> OrderFulfilment:
    data_dir.mkdir(parents=True, exist_ok=True)
    return OrderFulfilment(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(data_dir / "events.sqlite"),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    )


class EmbeddedReadModels:
    """Read-model rows as JSON in SQLite, with the position of the last event applied, in one transaction."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(data_dir / "read_models.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS rows (model TEXT, key TEXT, data TEXT, PRIMARY KEY (model, key))")
        self._db.execute("CREATE TABLE IF NOT EXISTS positions (model TEXT PRIMARY KEY, position INTEGER NOT NULL)")

    def position(self, model: str) -> int:
        found = self._db.execute("SELECT position FROM positions WHERE model = ?", (model,)).fetchone()
        return int(found[0]) if found else 0

    def row(self, model: str, key: object) -> dict[str, Any] | None:
        found = self._db.execute("SELECT data FROM rows WHERE model = ? AND key = ?", (model, str(key))).fetchone()
        return _from_json(json.loads(found[0])) if found else None

    def save(self, model: str, rows: dict[Any, dict[str, Any]], position: int) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO rows (model, key, data) VALUES (?, ?, ?)",
                [(model, str(key), json.dumps(row, default=_jsonable)) for key, row in rows.items()],
            )
            self._db.execute("INSERT OR REPLACE INTO positions (model, position) VALUES (?, ?)", (model, position))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    async def order_summary(self, order_id: UUID) -> dict[str, Any] | None:
        return self.row("order_summary", order_id)

    async def customer_orders(
        self, customer_id: UUID, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[dict[str, Any]]:
        # ISO-8601 UTC timestamps and uuid texts sort as the instants and ids they stand for.
        placed_at, order_id = (after[0].astimezone(timezone.utc).isoformat(), str(after[1])) if after else ("~", "~")
        found = self._db.execute(
            "SELECT data FROM rows WHERE model = 'customer_orders' AND json_extract(data, '$.customer_id') = ?"
            " AND (json_extract(data, '$.placed_at') < ? OR (json_extract(data, '$.placed_at') = ? AND key < ?))"
            " ORDER BY json_extract(data, '$.placed_at') DESC, key DESC LIMIT ?",
            (str(customer_id), placed_at, placed_at, order_id, limit),
        )
        return [_from_json(json.loads(data)) for (data,) in found]

    async def inventory_level(self, item_id: UUID) -> dict[str, Any] | None:
        return self.row("inventory_levels", item_id)

    async def all_rows(self, projection: str) -> list[dict[str, Any]]:
        found = self._db.execute("SELECT data FROM rows WHERE model = ?", (projection,))
        return [_from_json(json.loads(data)) for (data,) in found]

    async def saga_instance(self, saga_id: UUID) -> dict[str, Any] | None:
        return self.row("saga_instances", saga_id)

    async def saga_instances(
        self, status: str | None, started_before: datetime | None, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[dict[str, Any]]:
        # ISO-8601 UTC timestamps and uuid texts sort as the instants and ids they stand for.
        started_at, saga_id = (_utc_text(after[0]), str(after[1])) if after else ("~", "~")
        before = _utc_text(started_before) if started_before else "~"
        found = self._db.execute(
            "SELECT json_remove(data, '$.history') FROM rows WHERE model = 'saga_instances'"
            " AND (? IS NULL OR json_extract(data, '$.status') = ?) AND json_extract(data, '$.started_at') < ?"
            " AND (json_extract(data, '$.started_at') < ? OR (json_extract(data, '$.started_at') = ? AND key < ?))"
            " ORDER BY json_extract(data, '$.started_at') DESC, key DESC LIMIT ?",
            (status, status, before, started_at, started_at, saga_id, limit),
        )
        return [_from_json(json.loads(data)) for (data,) in found]

    async def checkpoints(self, projection: str) -> dict[tuple[str, int], int]:
        return {(EMBEDDED, 0): self.position(projection)}


class EmbeddedIdempotencyLedger(IdempotencyLedger):
    """The idempotency ledger, written through to SQLite so answers survive a restart for 24 h."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self._db = sqlite3.connect(data_dir / "idempotency.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers"
            " (key TEXT PRIMARY KEY, request_hash TEXT, outcome TEXT, recorded_at TEXT)"
        )
        since = (datetime.now(timezone.utc) - idempotency.WINDOW).isoformat()
        self._db.execute("DELETE FROM answers WHERE recorded_at < ?", (since,))
        for key, request_hash, outcome, recorded_at in self._db.execute("SELECT * FROM answers"):
            fields = json.loads(outcome)
            ids = {"command_id": UUID(fields["command_id"]), "aggregate_id": UUID(fields["aggregate_id"])}
            answer = Outcome(**{**fields, **ids})
            self.remember_entry(key, Remembered(answer, request_hash, datetime.fromisoformat(recorded_at)))

    def remember(self, envelope: Envelope, outcome: Outcome, at: datetime) -> None:
        super().remember(envelope, outcome, at)
        if envelope.idempotency_key is not None:
            answer = json.dumps(asdict(outcome), default=str)
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                (envelope.idempotency_key, envelope.request_hash, answer, at.isoformat()),
            )


class EmbeddedBackend:
    """Command bus, sagas and projector in one: each accepted command is projected before its answer returns,
    and the sagas it sets going take their next steps before that too."""

    def __init__(
        self,
        data_dir: Path,
        saga_policy: SagaPolicy | None = None,
        sagas: bool = True,
        breakers: BreakerSettings | None = None,
    ) -> None:
        self.app = open_event_store(data_dir)
        self.read_models = EmbeddedReadModels(data_dir)
        self._aggregates = _Aggregates(self.app)
        self._ledger = EmbeddedIdempotencyLedger(data_dir)
        # The simulated gateway lives in process here; its script is a test hook and is not kept across restarts.
        self._gateway = GatewayScript()
        self._gateway_breaker = gateway_breaker(breakers or BreakerSettings())
        self._late_answers: list[tuple[datetime, Command, Envelope]] = []  # scripted late: not kept either
        self._lock = asyncio.Lock()
        self.sagas: EmbeddedSagas | None = None
        if sagas:
            self.sagas = EmbeddedSagas(self.app, data_dir, self._decide_and_save, saga_policy or SagaPolicy())
            self.sagas.pump()
        self.catch_up()

    async def dispatch(self, command: Command, envelope: Envelope) -> Outcome:
        async with self._lock:  # one writer, as on Kafka
            outcome = self._decide_and_save(command, envelope)
            self._settle()
            return outcome

    def _settle(self) -> None:
        if self.sagas is not None:
            self.sagas.pump()
        self.catch_up()

    async def run_deadlines(self, every_s: float = 0.1) -> None:
        """Fires the sagas' deadlines and resends, and the gateway's late answers, as they come due, until
        cancelled."""
        while True:
            due = self.sagas.next_due() if self.sagas is not None else None
            if self._late_answers or (due is not None and due <= datetime.now(timezone.utc)):
                async with self._lock:
                    if self._late_answers_due() or due is not None:
                        self._settle()
            await asyncio.sleep(every_s)

    async def operate_saga(self, saga_id: UUID, action: str, by: str) -> None:
        """An operator's retry or abort, handled as the saga's own message (its history shows it)."""
        async with self._lock:
            if self.sagas is not None:
                self.sagas.operate(saga_id, action, by)
            self.catch_up()

    async def script(self, answers: list[GatewayAnswer]) -> None:
        async with self._lock:
            self._gateway.script(answers)

    def _answer_payment_request(self, request: RequestPayment, envelope: Envelope) -> None:
        """The gateway answers at once here (or, scripted late, when the ticker finds it due); on Kafka its
        adapter answers moments later, in the same way."""
        answer = self._gateway.next_answer(authorisation_code_for(request.payment_id))
        answer = asked_through(self._gateway_breaker, answer)
        command = answer_command(request.payment_id, answer)
        if command is None:
            return
        if answer.delay_s:
            due = envelope.issued_at + timedelta(seconds=answer.delay_s)
            self._late_answers.append((due, command, envelope))
            return
        self._decide_and_save(command, answer_envelope(envelope, datetime.now(timezone.utc)))

    def _late_answers_due(self) -> bool:
        now = datetime.now(timezone.utc)
        due = [late for late in self._late_answers if late[0] <= now]
        self._late_answers = [late for late in self._late_answers if late[0] > now]
        for _, command, envelope in due:
            self._decide_and_save(command, answer_envelope(envelope, now))
        return bool(due)

    def _decide_and_save(self, command: Command, envelope: Envelope) -> Outcome:
        outcome = self._decide_and_save_once(command, envelope)
        if self.sagas is not None and envelope.reply_to == SAGA_REPLIES:
            self.sagas.replies.append(SentReply(outcome, command, envelope))
        return outcome

    def _decide_and_save_once(self, command: Command, envelope: Envelope) -> Outcome:
        if (answer := self._ledger.answer_for(envelope)) is not None:
            return answer
        _, events, outcome = decide(command, envelope, self._aggregates)
        if events:
            try:
                recordings = self.app.save(*events)
            except IntegrityError as conflict:  # SQLite's unique (id, version) is the last word on versions
                return replace(outcome, status=CONFLICT, rule=EXPECTED_VERSION, message=str(conflict))
            outcome = replace(outcome, consistency_token=f"embedded:{recordings[-1].notification.id}")
        self._ledger.remember(envelope, outcome, datetime.now(timezone.utc))
        if events and isinstance(command, RequestPayment):
            self._answer_payment_request(command, envelope)
        return outcome

    def catch_up(self) -> int:
        """Apply every stored event past each read model's position; returns how many were applied."""
        return sum(self._catch_up(projection) for projection in PROJECTIONS.values())

    def _catch_up(self, projection: Any) -> int:
        model = projection.NAME
        applied = 0
        while True:
            start = self.read_models.position(model)
            notifications = self.app.recorder.select_notifications(start, PROJECTION_BATCH, inclusive_of_start=False)
            if not notifications:
                return applied
            rows: dict[Any, dict[str, Any]] = {}
            for notification in notifications:
                event = _projected(self.app.mapper.to_domain_event(notification))
                key = projection.key(event)
                if key is None:
                    continue
                row = projection.apply(rows.get(key) or self.read_models.row(model, key), event)
                if row is not None:
                    rows[key] = row
            self.read_models.save(model, rows, notifications[-1].id)
            applied += len(notifications)

    def events(self) -> Iterator[tuple[int, Any]]:
        """Every stored event with its position, in the order recorded, a page at a time."""
        start = 0
        while notifications := self.app.recorder.select_notifications(
            start, PROJECTION_BATCH, inclusive_of_start=False
        ):
            for notification in notifications:
                yield notification.id, _projected(self.app.mapper.to_domain_event(notification))
            start = notifications[-1].id


def _projected(event: Any) -> Any:
    """What a read model is given: a saga's stored event as the saga recorded it, any other event as it is."""
    return recorded_from(event) if isinstance(event, SagaRecorded) else event


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _jsonable(value: object) -> str:
    if isinstance(value, datetime):
        return _utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_TYPED = {
    "order_id": UUID,
    "customer_id": UUID,
    "item_id": UUID,
    "saga_id": UUID,
    "placed_at": datetime.fromisoformat,
    "started_at": datetime.fromisoformat,
    "updated_at": datetime.fromisoformat,
    "deadline_due": datetime.fromisoformat,
    "day": date.fromisoformat,
}


def _from_json(data: dict[str, Any]) -> dict[str, Any]:
    return {key: _TYPED[key](value) if key in _TYPED and value is not None else value for key, value in data.items()}
