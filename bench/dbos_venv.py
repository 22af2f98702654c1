"""The DBOS baseline's own virtualenv, made once under the cache folder from the pins in pyproject.toml.

DBOS Transact 3.4.0 requires croniter >= 6.2.4 and Faust's `mode-streaming` 0.7.1 requires croniter < 6, so pip
cannot install both into one environment (nor resolve an extra of ours that names DBOS). The baseline runs as
its own process anyway; its interpreter is this virtualenv's.
"""

import hashlib
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from bench.processes import BenchError
from infra.local.process import Settings as LocalSettings
from infra.settings import REPOSITORY_ROOT

INSTALL_TIMEOUT_S = 900


def requirements() -> list[str]:
    """`[tool.streamkeep.bench] dbos-baseline` in pyproject.toml: every package the baseline imports, pinned."""
    project = tomllib.loads((REPOSITORY_ROOT / "pyproject.toml").read_text())
    return list(project["tool"]["streamkeep"]["bench"]["dbos-baseline"])


def dbos_python(log_dir: Path) -> Path:
    """The baseline's interpreter; the virtualenv is made (once per set of pins) when missing."""
    pins = requirements()
    digest = hashlib.sha256("\n".join([sys.version, *pins]).encode()).hexdigest()[:12]
    venv = LocalSettings.from_env().cache_dir / "bench" / f"dbos-venv-{digest}"
    python = venv / "bin" / "python"
    if (venv / "installed").exists():
        return python
    building = venv.with_name(venv.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    log = log_dir / "dbos-venv.log"
    commands = [
        [sys.executable, "-m", "venv", str(building)],
        [str(building / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", *pins],
    ]
    with log.open("ab") as out:
        for command in commands:
            try:
                subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=INSTALL_TIMEOUT_S)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                raise BenchError(f"cannot make the DBOS baseline's virtualenv ({error}); see {log}") from error
    (building / "installed").write_text("\n".join(pins) + "\n")
    shutil.rmtree(venv, ignore_errors=True)
    building.rename(venv)
    return python
