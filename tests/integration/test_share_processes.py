"""Share processes (a rebuild's or a replay's) die with the command that started them, even on kill -9."""

import os
import signal
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

from infra.settings import REPOSITORY_ROOT
from tests.platform import wait_for

# The command's part: two shares of a run whose target only reports its pid and waits.
COMMAND = """
import sys
from infra.runtime.share_processes import run_shares
from tests.integration.test_share_processes import report_and_wait
run_shares("test run", report_and_wait, [((0,), (sys.argv[1],)), ((1,), (sys.argv[1],))], lambda _i, _b: None)
"""


def report_and_wait(folder: str, connection: Connection) -> None:
    """A share that would outlive its command by a minute if nothing ended it."""
    (Path(folder) / f"{os.getpid()}.pid").write_text("started")
    time.sleep(60)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has ended; only its exit status waits to be collected


def test_shares_die_when_their_command_is_killed(tmp_path: Path) -> None:
    command = subprocess.Popen([sys.executable, "-c", COMMAND, str(tmp_path)], cwd=REPOSITORY_ROOT)
    try:
        wait_for(lambda: len(list(tmp_path.glob("*.pid"))) == 2, 60, "the two shares to start")
        shares = [int(path.stem) for path in tmp_path.glob("*.pid")]
        assert all(_alive(pid) for pid in shares)
        command.send_signal(signal.SIGKILL)
        command.wait(10)
        wait_for(lambda: not any(_alive(pid) for pid in shares), 10, f"shares {shares} to end with their command")
    finally:
        command.kill()
        for path in tmp_path.glob("*.pid"):
            try:
                os.kill(int(path.stem), signal.SIGKILL)
            except ProcessLookupError:
                pass
