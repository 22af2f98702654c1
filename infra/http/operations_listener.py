"""The worker's small HTTP listener: the operations routes alone, served by uvicorn on the worker's event loop."""

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from infra.http.operations import router
from infra.observability.checks import Readiness


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
        self._serving: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Returns once the port is bound; a port in use ends the process as uvicorn does, with its error line."""
        self._serving = asyncio.ensure_future(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
                raise OSError(f"the operations listener did not start on {self._server.config.port}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._serving is not None:
            await self._serving
