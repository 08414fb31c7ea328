"""`bingan serve`'s process supervisor: uvicorn's, with a rolling restart on SIGHUP (T5).

All web processes accept on the one listening socket the supervisor opened. On SIGHUP each web
process in turn is replaced: its successor is started (it imports the code now installed) and
must answer the supervisor's readiness check before the old process gets SIGTERM, which is
uvicorn's graceful shutdown — it stops accepting, finishes the requests under way, then exits.
The socket never closes, so no connection is refused and no request fails. The embedded worker
and beat (``start_background``) are restarted after the web processes (``restart_background``).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path

from fastapi import FastAPI
from uvicorn.config import Config
from uvicorn.supervisors.multiprocess import Multiprocess

log = logging.getLogger("uvicorn.error")
GRACE_SECONDS = 60  # a request still running this long after SIGTERM is cut off
READY_SECONDS = 120  # a new web process must answer within this (imports, app start-up on a busy machine)

class RollingSupervisor(Multiprocess):
    def __init__(self, config: Config, log_dir: Path | None) -> None:
        super().__init__(config, sockets=[config.bind_socket()])
        self.log_dir = log_dir  # the embedded worker's and beat's logs; None = they run elsewhere

    def handle_hup(self) -> None:
        log.info("SIGHUP: rolling restart of %d web processes", len(self.processes))
        self.restart_all()
        if self.log_dir is not None and not self.should_exit.is_set():
            from bingan.ingest.embedded import restart_background

            pids = restart_background(self.log_dir)
            log.info("SIGHUP: worker and beat restarted (%s)", ", ".join(map(str, pids)))


def web_app() -> FastAPI:
    """The application factory each web process calls. First it asks the kernel for SIGTERM when
    the supervisor dies: a SIGKILLed `bingan serve` leaves no web process holding the port."""
    from bingan.ingest.embedded import die_with_parent
    from bingan.web.app import create_app

    die_with_parent()
    supervisor = multiprocessing.parent_process()  # set in a spawned web process
    if supervisor is not None and os.getppid() != supervisor.pid:  # it died while this one was starting
        os._exit(0)
    return create_app()


def serve_rolling(options: dict, workers: int, log_dir: Path | None) -> None:
    config = Config("bingan.cli.rolling:web_app", factory=True, workers=workers,
                    timeout_graceful_shutdown=GRACE_SECONDS, timeout_worker_healthcheck=READY_SECONDS, **options)
    RollingSupervisor(config, log_dir).run()
