"""Shared helpers for the local stack: settings, pid files, port probes, detached processes."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


class InfraError(Exception):
    """A failure whose message is the single line shown to the user."""


@dataclass(frozen=True)
class Settings:
    """Where things live and which ports they use; read from the environment on every call."""

    cache_dir: Path
    kafka_port: int
    controller_port: int
    registry_port: int
    pg_port: int
    pg_root: Path

    @property
    def run_dir(self) -> Path:
        return self.cache_dir / "run"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        cache = Path(env.get("STREAMKEEP_CACHE_DIR") or Path.home() / ".cache" / "streamkeep")
        cache = cache.expanduser().resolve()
        kafka_port = _port("STREAMKEEP_KAFKA_PORT", 9092)
        pg_port = _port("STREAMKEEP_PG_PORT", 5433)
        if env.get("STREAMKEEP_PG_DIR"):
            pg_root = Path(env["STREAMKEEP_PG_DIR"]).expanduser().resolve()
        elif os.geteuid() == 0:
            # PostgreSQL must run as the unprivileged `postgres` user, which cannot
            # traverse /root/.cache; /var/tmp survives reboots and is world-traversable.
            # The port in the name keeps separate stacks (e.g. tests) apart.
            pg_root = Path(f"/var/tmp/streamkeep-pg-{pg_port}")
        else:
            pg_root = cache / "postgres"
        return cls(
            cache_dir=cache,
            kafka_port=kafka_port,
            controller_port=kafka_port + 1,
            registry_port=_port("STREAMKEEP_REGISTRY_PORT", 8081),
            pg_port=pg_port,
            pg_root=pg_root,
        )


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InfraError(f"streamkeep infra: {name}={raw!r} is not a port number") from None


def say(message: str) -> None:
    """Progress goes to stderr: stdout is reserved for `export` lines."""
    print(f"streamkeep infra: {message}", file=sys.stderr, flush=True)


# --- ports -------------------------------------------------------------------------


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check, timeout: float, interval: float = 0.5, pid: int | None = None) -> bool:
    """Poll `check()` until true; gives up early if the process `pid` has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if pid is not None and not pid_alive(pid):
            return bool(check())
        time.sleep(interval)
    return bool(check())


# --- pid files ---------------------------------------------------------------------


def pid_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def read_pid(settings: Settings, name: str, marker: str) -> int | None:
    """The pid recorded for `name`, if that process still runs and is really ours.

    `marker` must appear in the process command line: it guards against a stale
    pid file whose pid the kernel has since handed to an unrelated process.
    """
    path = pid_file(settings, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid_alive(pid) and marker in cmdline(pid):
        return pid
    return None


def write_pid(settings: Settings, name: str, pid: int) -> None:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    pid_file(settings, name).write_text(f"{pid}\n")


def remove_pid(settings: Settings, name: str) -> None:
    pid_file(settings, name).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (dead child not yet reaped) still answers kill(0); treat it as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# --- processes ---------------------------------------------------------------------


def spawn(argv: list[str], log_file: Path, cwd: Path | None = None, env: dict | None = None) -> int:
    """Start a process detached from the CLI (own session, output to a log file)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,  # survives the CLI and its terminal's SIGINT/SIGHUP
            close_fds=True,
        )
    return proc.pid


def terminate(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL; returns once the process is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if wait_until(lambda: not pid_alive(pid), timeout, interval=0.2):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_until(lambda: not pid_alive(pid), 5.0, interval=0.1)


def run(argv: list[str], what: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run a short tool to completion; a failure becomes one InfraError line."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise InfraError(f"streamkeep infra up: {what} timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit code {proc.returncode}"
        raise InfraError(f"streamkeep infra up: {what} failed: {last}")
    return proc


# --- prerequisites -----------------------------------------------------------------


def require_java(purpose: str) -> str:
    java = shutil.which("java")
    hint = f"streamkeep infra up: Java 17+ is required to run {purpose}; install openjdk-17-jre-headless"
    if not java:
        raise InfraError(hint)
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0_x" style
            major = int(match.group(2))
        if major < 17:
            raise InfraError(hint + f" (found Java {major})")
    return java


def require_mvn(purpose: str) -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise InfraError(f"streamkeep infra up: Maven is required to download {purpose}; install maven")
    return mvn
