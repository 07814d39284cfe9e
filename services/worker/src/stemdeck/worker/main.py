"""The worker process: one RQ SimpleWorker that keeps models loaded across jobs.

RQ's default worker forks a work-horse per job, which would reload every model
for every job; SimpleWorker runs jobs in this process, so the cache stays warm.
"""

from __future__ import annotations

import logging
import os
import socket

from rq import SimpleWorker
from rq.serializers import JSONSerializer

from stemdeck.core.queue import redis_connection, separate_queue
from stemdeck.core.settings import Settings
from stemdeck.worker import runtime


def worker_name() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


def build_worker(settings: Settings, name: str | None = None) -> SimpleWorker:
    runtime.configure(runtime.WorkerRuntime.from_settings(settings))
    connection = redis_connection(settings.require_redis_url())
    return SimpleWorker(
        [separate_queue(connection)],
        connection=connection,
        serializer=JSONSerializer,
        name=name or worker_name(),
    )


def run_worker(settings: Settings, *, burst: bool = False, name: str | None = None) -> bool:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    worker = build_worker(settings, name)
    return worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=False)
