"""The worker's small HTTP listener: the operations routes alone, served by uvicorn on the worker's event loop."""

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from infra.http.operations import router
from infra.observability.checks import Readiness


class ListenerFailed(Exception):
    """The listener could not start (its port in use, say); uvicorn has logged why."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The worker handles SIGINT and SIGTERM itself and stops this server with the rest.
        yield


def operations_app(readiness: Readiness) -> FastAPI:
    app = FastAPI(title="Streamkeep worker", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.readiness = readiness
    app.include_router(router)
    return app


class OperationsListener:
    """Serves /livez, /readyz, /healthz and /metrics beside the worker's stream processors."""

    def __init__(self, readiness: Readiness, host: str, port: int) -> None:
        # log_config=None: uvicorn's lines go through our logging, in the process's format.
        config = uvicorn.Config(operations_app(readiness), host=host, port=port, log_config=None, access_log=False)
        self._server = _Server(config)
        self._port = port
        self._serving: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Returns once the port is bound; raises ListenerFailed when it cannot be."""
        self._serving = asyncio.ensure_future(self._serve())
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
                raise ListenerFailed(f"the operations listener stopped before it started on port {self._port}")
            await asyncio.sleep(0.05)

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:
            # uvicorn exits when it cannot bind; a SystemExit out of a task would end the loop with a traceback.
            config = self._server.config
            raise ListenerFailed(f"cannot listen on {config.host}:{config.port} (see the line above)") from None

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._serving is not None:
            await self._serving
