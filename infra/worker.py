"""The Kafka-backend stream processors of one process: a command processor per context, sagas, projections."""

import asyncio
import logging
import os
import threading
from functools import partial
from typing import Any

from commands.messages import COMMAND_TYPES
from infra.avro.codec import AvroCodec
from infra.kafka.supervisor import EXIT_PROCESSOR_DIED, Supervisor
from infra.read_side.projection_runner import create_projection_app
from infra.read_side.read_models import PostgresReadModels
from infra.resilience.payment_gateway import gateway_breaker
from infra.saga_runner.runner import SagaRunner
from infra.settings import BreakerSettings
from infra.write_side.command_processor import CommandProcessor
from infra.write_side.gateway_adapter import GatewayAdapter
from sagas.policy import SagaPolicy

log = logging.getLogger(__name__)
ROLES = ("commands", "sagas", "projections")
COMMAND_CONTEXTS = tuple(sorted({command.context for command in COMMAND_TYPES}))


class Worker:
    """Starts and stops the roles this process plays; several workers share partitions through consumer groups."""

    def __init__(
        self,
        bootstrap_servers: str,
        codec: AvroCodec,
        read_models: PostgresReadModels,
        roles: tuple[str, ...],
        saga_policy: SagaPolicy | None = None,
        breakers: BreakerSettings | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._breakers = breakers or BreakerSettings()
        self._saga_policy = saga_policy or SagaPolicy()
        self._codec = codec
        self._read_models = read_models
        self._roles = roles
        self._stop = threading.Event()
        self._loops = Supervisor(self._stop)
        self._faust: Any = None
        self._watch: Any = None

    @property
    def ready(self) -> bool:
        """True once every command processor and saga runner of this process owns and has loaded its partitions."""
        loaded = (CommandProcessor, SagaRunner)
        return all(loop.ready.is_set() for loop in self._loops.loops if isinstance(loop, loaded))

    async def start(self) -> None:
        if "commands" in self._roles:
            for context in COMMAND_CONTEXTS:
                self._loops.add(f"{context}-commands", partial(CommandProcessor, self._bootstrap, self._codec, context))
            # The simulated payment gateway answers payment requests; one partition, so one adapter works at a time.
            # Its breaker outlives an adapter the supervisor replaces.
            breaker = gateway_breaker(self._breakers)
            self._loops.add("payment-gateway", partial(GatewayAdapter, self._bootstrap, self._codec, breaker))
        if "sagas" in self._roles:
            runner = partial(SagaRunner, self._bootstrap, self._codec, self._saga_policy)
            self._loops.add("fulfilment-sagas", runner)
        if "projections" in self._roles:
            self._faust = create_projection_app(self._bootstrap, self._codec, self._read_models)
            await self._faust.start()
            self._watch = asyncio.ensure_future(self._exit_if_projections_crash())

    async def _exit_if_projections_crash(self) -> None:
        # Faust marks the app crashed (e.g. a fetcher that cannot decompress a batch) and idles: die instead,
        # as the command processors do, so a supervisor sees it and the lag does not grow unnoticed.
        while not self._stop.is_set():
            await asyncio.sleep(1)
            if self._faust.crashed:
                log.critical("the projections stopped on an error: %r", self._faust.crash_reason)
                os._exit(EXIT_PROCESSOR_DIED)

    async def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.cancel()
        if self._faust is not None:
            await self._faust.stop()
        for thread in self._loops.threads:
            await asyncio.to_thread(thread.join, 10)
