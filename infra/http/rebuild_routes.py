"""`POST /v1/projections/{name}/rebuild` and its status: an admin starts `streamkeep rebuild NAME` from the API, as a
process of its own (a rebuild reads every event: not work for the process answering requests)."""

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel

from infra.settings import REPOSITORY_ROOT
from projections.catalogue import PROJECTIONS

router = APIRouter(prefix="/v1/projections", tags=["operations"])


class RebuildStatus(BaseModel):
    projection: str
    status: str  # running, succeeded or failed
    pid: int
    result: dict[str, Any] | None = None  # what `rebuild --json` printed, once it succeeded
    error: str | None = None  # its last line on stderr, once it failed


@dataclass
class _Started:
    process: subprocess.Popen[bytes]
    output: Path
    errors: Path


# This API process's rebuilds, by read model: one at a time each (a second one is refused by the rebuild itself
# anyway, whichever process starts it).
_STARTED: dict[str, _Started] = {}


@router.post("/{name}/rebuild", status_code=status.HTTP_202_ACCEPTED)
async def start_rebuild(name: str, request: Request, response: Response) -> RebuildStatus:
    """Rebuild the read model beside the live one and swap it in (admin). 409 while one runs, or on the embedded
    backend, whose read models are rebuilt in process."""
    _known(name)
    if not request.app.state.settings.uses_kafka:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={"title": "No rebuild here", "detail": "rebuilds need the kafka backend"},
        )
    running = _STARTED.get(name)
    if running is not None and running.process.poll() is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={
                "title": "Rebuild running",
                "detail": f"a rebuild of {name} is running (pid {running.process.pid})",
            },
        )
    folder = Path(tempfile.mkdtemp(prefix=f"streamkeep-rebuild-{name}-"))
    output, errors = folder / "result.json", folder / "stderr.log"
    with output.open("wb") as out, errors.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra", "rebuild", name, "--json"], stdout=out, stderr=err, cwd=REPOSITORY_ROOT
        )
    _STARTED[name] = _Started(process, output, errors)
    response.headers["Location"] = f"/v1/projections/{name}/rebuild"
    return _status(name, _STARTED[name])


@router.get("/{name}/rebuild")
async def rebuild_status(name: str) -> RebuildStatus:
    """The last rebuild of the read model this API process started: running, succeeded (with its summary) or
    failed (with its last error line). 404 when it started none."""
    _known(name)
    started = _STARTED.get(name)
    if started is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail={"title": "Not found", "detail": f"this API process started no rebuild of {name}"},
        )
    return _status(name, started)


def _known(name: str) -> None:
    if name not in PROJECTIONS:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail={"title": "Not found", "detail": f"no read model {name!r}; they are {', '.join(PROJECTIONS)}"},
        )


def _status(name: str, started: _Started) -> RebuildStatus:
    code = started.process.poll()
    if code is None:
        return RebuildStatus(projection=name, status="running", pid=started.process.pid)
    if code == 0:
        lines = started.output.read_text().strip().splitlines()
        return RebuildStatus(
            projection=name, status="succeeded", pid=started.process.pid, result=json.loads(lines[-1]) if lines else {}
        )
    said = [line for line in started.errors.read_text(errors="replace").splitlines() if line.strip()]
    return RebuildStatus(
        projection=name, status="failed", pid=started.process.pid, error=said[-1] if said else f"exit code {code}"
    )
