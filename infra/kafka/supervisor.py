"""Keeps a process's transactional loops running: a new instance after a fatal Kafka error or a stuck call."""

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import KafkaException

from infra.kafka.transactions import CALL_TIMEOUT_S

log = logging.getLogger(__name__)
EXIT_PROCESSOR_DIED = 70
RESTART_BACKOFF_S = 1.0
# Longer than any bounded call: only a call librdkafka never returns from gets this old.
STUCK_AFTER_S = CALL_TIMEOUT_S + 15


class Loop(Protocol):
    """What the supervisor runs: a transactional loop whose `run` blocks until `stop` is set."""

    retired: threading.Event

    def run(self, stop: threading.Event) -> None: ...

    def stuck_for(self) -> float: ...

    def retire(self) -> None: ...


@dataclass
class _Slot:
    name: str
    make: Callable[[], Loop]
    current: Loop


class Supervisor:
    """One slot per loop; each slot always has one live instance until the process stops."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._slots: list[_Slot] = []
        self.threads: list[threading.Thread] = []
        self._watchdog = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)

    @property
    def loops(self) -> list[Loop]:
        return [slot.current for slot in self._slots]

    def add(self, name: str, make: Callable[[], Loop]) -> None:
        slot = _Slot(name, make, make())
        self._slots.append(slot)
        self._start(slot, slot.current)
        if not self._watchdog.is_alive():
            self._watchdog.start()

    def _start(self, slot: _Slot, loop: Loop) -> None:
        thread = threading.Thread(target=self._run, args=(slot, loop), name=slot.name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _replace(self, slot: _Slot) -> None:
        slot.current = slot.make()
        self._start(slot, slot.current)

    def _run(self, slot: _Slot, loop: Loop) -> None:
        try:
            loop.run(self._stop)
        except KafkaException as error:
            if loop.retired.is_set():
                return  # the watchdog replaced it already
            # A fenced producer can never write again; a new one with a new consumer rejoins the group
            # and reloads its partitions from Kafka, as a restarted process would.
            log.warning("%s: fatal Kafka error, starting a new instance: %s", slot.name, error)
            if not self._stop.wait(RESTART_BACKOFF_S):
                self._replace(slot)
        except BaseException:
            if loop.retired.is_set():
                return
            # Anything else is a bug: a process that cannot write commands must not look healthy.
            log.critical("%s stopped on an error", slot.name, exc_info=True)
            os._exit(EXIT_PROCESSOR_DIED)

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            for slot in self._slots:
                stuck_for = slot.current.stuck_for()
                if stuck_for > STUCK_AFTER_S:
                    log.error(
                        "%s: a transactional call has not returned for %.0f s (librdkafka #5456): replacing it",
                        slot.name,
                        stuck_for,
                    )
                    slot.current.retire()
                    self._replace(slot)
