"""A serving process freezes its start-up objects before it answers anything.

A full garbage collection walks every object the process tracks while every
connection waits: ~90-115 ms with the gateway's start-up objects, 6-12 ms once
they are frozen (``gc.freeze()``; docs/BENCHMARKS.md). ``keyanchor serve`` with one
worker freezes once it listens; each worker of ``--workers N`` once its app is built.
The checks run in a child process: freezing is for the whole process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

ONE_WORKER = """
import gc
import uvicorn.server
from registry.gateways._server import ServerLimits, run_server

async def app(scope, receive, send):
    pass

async def first_request_may_come(self):  # what runs once the server listens
    print("frozen", gc.get_freeze_count())
    self.should_exit = True

assert gc.get_freeze_count() == 0
uvicorn.server.Server.main_loop = first_request_may_come
run_server(app, "127.0.0.1", 0, limits=ServerLimits(), log_level="error")
"""

WORKER = """
import gc
from registry.gateways.http import _app_from_env

assert gc.get_freeze_count() == 0
app = _app_from_env()
print("frozen", gc.get_freeze_count())
"""


def _frozen(code: str, tmp_path: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO), "KEYANCHOR_GATEWAY_INDEX": str(tmp_path / "x"),
           "KEYANCHOR_GATEWAY_POLICY": "", "KEYANCHOR_GATEWAY_MAX_STALENESS": ""}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    line = next(x for x in run.stdout.splitlines() if x.startswith("frozen "))
    return int(line.split()[1])


def test_one_worker_freezes_its_start_up_objects_before_the_first_request(tmp_path: Path) -> None:
    assert _frozen(ONE_WORKER, tmp_path) > 1000  # the modules, classes and functions


def test_each_worker_freezes_once_its_app_is_built(tmp_path: Path) -> None:
    assert _frozen(WORKER, tmp_path) > 1000
