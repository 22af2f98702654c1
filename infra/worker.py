"""The Kafka-backend stream processors of one process: a command processor per context and the projections."""

import asyncio
import logging
import os
import threading
from typing import Any

from commands.messages import COMMAND_TYPES
from infra.avro_codec import AvroCodec
from infra.command_processor import CommandProcessor
from infra.postgres_read_models import PostgresReadModels
from infra.projection_worker import create_projection_app

log = logging.getLogger(__name__)
ROLES = ("commands", "projections")
EXIT_PROCESSOR_DIED = 70
COMMAND_CONTEXTS = tuple(sorted({command.context for command in COMMAND_TYPES}))


class Worker:
    """Starts and stops the roles this process plays; several workers share partitions through consumer groups."""

    def __init__(
        self, bootstrap_servers: str, codec: AvroCodec, read_models: PostgresReadModels, roles: tuple[str, ...]
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._codec = codec
        self._read_models = read_models
        self._roles = roles
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._processors: list[CommandProcessor] = []
        self._faust: Any = None
        self._watch: Any = None

    @property
    def ready(self) -> bool:
        """True once every command processor of this process owns and has loaded its partitions."""
        return all(processor.ready.is_set() for processor in self._processors)

    async def start(self) -> None:
        if "commands" in self._roles:
            for context in COMMAND_CONTEXTS:
                processor = CommandProcessor(self._bootstrap, self._codec, context)
                thread = threading.Thread(
                    target=self._run_processor, args=(processor,), name=f"{context}-commands", daemon=True
                )
                self._processors.append(processor)
                self._threads.append(thread)
                thread.start()
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

    def _run_processor(self, processor: CommandProcessor) -> None:
        try:
            processor.run(self._stop)
        except BaseException:
            # A process that cannot write commands any more must not look healthy: die, so it is restarted.
            log.critical("a command processor stopped on an error", exc_info=True)
            os._exit(EXIT_PROCESSOR_DIED)

    async def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.cancel()
        if self._faust is not None:
            await self._faust.stop()
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 10)
