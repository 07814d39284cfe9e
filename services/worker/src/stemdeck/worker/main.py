"""The worker process: one RQ SimpleWorker that keeps models loaded across jobs.

RQ's default worker forks a work-horse per job, which would reload every model
for every job; SimpleWorker runs jobs in this process, so the cache stays warm.
It takes separations and URL downloads (``--queue`` narrows that). SIGTERM hands
the current job back to the queue at its next progress point, then exits. While it
lives it reports itself on Redis (worker/presence.py) for GET /api/system and the
queue's estimates. Before it registers it converts the weights installed packages
carry into the models directory, where that is writable (models/prepare.py).
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

from stemdeck.core.logs import configure_logging
from stemdeck.core.metrics import serve_metrics
from stemdeck.core.queue import (
    INGEST_QUEUE,
    SEPARATE_QUEUE,
    ingest_queue,
    redis_connection,
    separate_queue,
)
from stemdeck.core.settings import Settings
from stemdeck.core.tracing import start_tracing
from stemdeck.worker import presence, registration, runtime, shutdown
from stemdeck.worker.models.prepare import prepare_bundled
from stemdeck.worker.prometheus import BUSY, GpuMemoryCollector, busy

QUEUES = (SEPARATE_QUEUE, INGEST_QUEUE)
REDIS_RETRY_S = 2.0
# How long RQ's command listener waits for a message before it looks whether to stop.
PUBSUB_WAIT_S = 1.0

log = logging.getLogger(__name__)


class StemdeckWorker(SimpleWorker):
    # What earlier boots of this worker were named from (worker/registration.py): host.pid
    # for a default name; a name given with --name is its own base (None: the name).
    name_base: str | None = None

    def handle_warm_shutdown_request(self) -> None:
        # RQ would let the job run to its end, which may be many minutes; the task
        # sees this at its next progress point and re-queues the job instead.
        shutdown.request()
        super().handle_warm_shutdown_request()  # type: ignore[no-untyped-call]

    def register_birth(self) -> None:
        interval_s = runtime.current().settings.heartbeat_interval_s
        # A boot killed before it could unregister must not keep this one out.
        earlier = registration.EarlierBoots(
            self.connection, self.name_base or self.name, self.name, interval_s
        )
        earlier.before_birth()
        super().register_birth()  # type: ignore[no-untyped-call]
        queues = [queue.name for queue in self.queues]
        self.presence = presence.PresenceReporter(self.connection, self.name, queues, interval_s)
        presence.install(self.presence)
        self.presence.start()

    def subscribe(self) -> None:
        # RQ's listener waits 60 s at a time, and redis-py 8.2's stop() waits for it: a
        # SIGTERM just after a message (the unsubscribe's own reply) made an idle worker
        # take a minute to exit, past a container's stop timeout. A short wait bounds it.
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=PUBSUB_WAIT_S,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def register_death(self) -> None:
        presence.install(None)
        self.presence.stop()
        super().register_death()  # type: ignore[no-untyped-call]

    def execute_job(self, job: Job, queue: Queue) -> None:
        self.presence.job_started(job.id, queue.name)
        try:
            with busy():
                super().execute_job(job, queue)
        finally:
            self.presence.job_ended()


def build_worker(
    settings: Settings, name: str | None = None, queues: tuple[str, ...] = QUEUES
) -> SimpleWorker:
    unknown = [queue for queue in queues if queue not in QUEUES]
    if unknown:
        raise ValueError(f"unknown queue(s) {unknown}; choose from {', '.join(QUEUES)}")
    runtime.configure(runtime.WorkerRuntime.from_settings(settings))
    shutdown.reset()
    connection = redis_connection(settings.require_redis_url())
    by_name = {SEPARATE_QUEUE: separate_queue, INGEST_QUEUE: ingest_queue}
    base = name or registration.default_base()
    worker = StemdeckWorker(
        [by_name[queue](connection) for queue in queues],
        connection=connection,
        serializer=JSONSerializer,
        name=name or registration.boot_name(base),
    )
    worker.name_base = base
    return worker


def _serve_metrics(settings: Settings) -> None:
    BUSY.set(0)  # an idle worker reports 0, not nothing
    serve_metrics(settings, [GpuMemoryCollector(lambda: runtime.current().models.device)])


def run_worker(
    settings: Settings,
    *,
    burst: bool = False,
    name: str | None = None,
    queues: tuple[str, ...] = QUEUES,
) -> bool:
    configure_logging(settings)
    start_tracing("stemdeck-worker")
    prepare_bundled(settings.effective_models_dir)
    metrics_served = False
    while True:
        try:
            worker = build_worker(settings, name, queues)
            if not metrics_served:  # once per process, once the runtime knows its device
                _serve_metrics(settings)
                metrics_served = True
            return worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=False)
        except (RedisConnectionError, RedisTimeoutError) as error:
            # Redis restarting is an outage to wait out, not a reason for the worker to exit.
            if burst:
                raise
            log.warning("Redis is unreachable (%s); trying again in %s s", error, REDIS_RETRY_S)
            time.sleep(REDIS_RETRY_S)
