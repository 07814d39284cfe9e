"""One Redis subscription per API process, fanned out to every event stream in it.

The hub pattern-subscribes once to every job's channel (stemdeck.core.events) on
its own connection, started by the first stream, and hands each notice to the
inboxes of that job's streams only. A stream registers its inbox after the
subscription is confirmed and before its first read, so no change between the two
is missed, as when each stream subscribed on its own.

When the connection drops (Redis restarted, the connection killed) the hub
reconnects with a growing pause; once subscribed again it wakes every stream, since
notices sent meanwhile were lost. Until then streams resync at their keep-alive.
While Redis is down, opening a stream fails at once (RedisConnectionError, a 503
that names Redis) rather than waiting for a notice that cannot come.

The hub also keeps the streams' keep-alive time: one clock ticks a few times per
STEMDECK_EVENTS_KEEPALIVE_S and wakes each stream that has waited that long, so a
waiting stream costs no timer of its own (a timer per wait was a tenth of the CPU
time a delivery to a thousand streams took).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Any

from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from stemdeck.core.events import job_channel

log = logging.getLogger(__name__)

CHANNEL_PREFIX = job_channel("")
PATTERN = f"{CHANNEL_PREFIX}*"
# How long a stream that opens waits for the subscription (a connect and a reply).
SUBSCRIBE_TIMEOUT_S = 10.0
# Between reconnect attempts: doubling from the first to the last.
RETRY_FIRST_S, RETRY_MOST_S = 0.1, 5.0
# A silent connection is pinged this often, so a dead one is found and replaced.
HEALTH_CHECK_S = 30.0


class Inbox:
    """One stream's doorbell: rung by every notice of its job; many rings before the
    stream looks count as one, since one re-read answers them all."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        # When the hub's clock wakes a waiting stream (loop time); never while not waiting.
        self.due = math.inf
        self._rung = asyncio.Event()
        self._noticed = False

    def ring(self) -> None:
        self._noticed = True
        self._rung.set()

    def time_out(self) -> None:
        self._rung.set()

    async def wait(self, timeout_s: float) -> bool:
        """True when rung by a notice (now or within ``timeout_s``), False when
        ``timeout_s`` passed without one (by the hub's clock, within a tick)."""
        self.due = asyncio.get_running_loop().time() + timeout_s
        await self._rung.wait()
        self._rung.clear()
        self.due = math.inf
        noticed, self._noticed = self._noticed, False
        return noticed


class EventHub:
    def __init__(self, redis_url: str, keepalive_s: float) -> None:
        self._redis_url = redis_url
        # Waits time out within a quarter of the keep-alive late, or a second at most.
        self._tick_s = min(keepalive_s / 4, 1.0)
        self._inboxes: dict[str, set[Inbox]] = {}
        self._task: asyncio.Task[None] | None = None
        self._clock: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribed = False
        self._last_error: BaseException | None = None
        # Streams waiting for the next outcome of a (re)connect: subscribed, or failed.
        self._waiters: list[asyncio.Future[None]] = []
        self._retry_now = asyncio.Event()

    async def watch(self, job_id: str) -> Inbox:
        """An inbox that rings at each change of ``job_id`` from now on. Raises
        RedisConnectionError when Redis cannot be reached."""
        self._start()
        if not self._subscribed:
            await self._next_outcome()
        inbox = Inbox(job_id)
        self._inboxes.setdefault(job_id, set()).add(inbox)
        return inbox

    def unwatch(self, inbox: Inbox) -> None:
        inboxes = self._inboxes.get(inbox.job_id)
        if inboxes is None:
            return
        inboxes.discard(inbox)
        if not inboxes:
            del self._inboxes[inbox.job_id]

    async def aclose(self) -> None:
        tasks, self._task, self._clock = (self._task, self._clock), None, None
        for task in tasks:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._settle(RedisConnectionError("the API is shutting down"))

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        if self._clock is not None and self._loop is loop:
            self._clock.cancel()
        # A new event loop (a test client without its lifespan runs each request in its
        # own) cannot use the old one's connection, futures or tasks; those died with it.
        self._loop, self._subscribed, self._last_error = loop, False, None
        self._waiters, self._retry_now = [], asyncio.Event()
        self._task = loop.create_task(self._run(), name="stemdeck-event-hub")
        self._clock = loop.create_task(self._keep_time(), name="stemdeck-event-keepalive")

    async def _next_outcome(self) -> None:
        if self._last_error is not None:
            # Down a moment ago: try at once rather than after the pause, and answer
            # with that attempt's outcome.
            self._retry_now.set()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                await waiter
        except TimeoutError:
            raise RedisConnectionError(
                f"no reply from Redis within {SUBSCRIBE_TIMEOUT_S:g} s"
            ) from None

    def _settle(self, error: BaseException | None) -> None:
        """Tell the waiting streams how the last (re)connect went."""
        self._subscribed, self._last_error = error is None, error
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(RedisConnectionError(f"Redis cannot be reached: {error}"))

    async def _run(self) -> None:
        pause = RETRY_FIRST_S
        while True:
            try:
                await self._listen()
            except (RedisError, OSError) as error:
                if self._subscribed:
                    log.warning("event hub lost its Redis subscription: %s", error)
                    pause = RETRY_FIRST_S
                self._settle(error)
            self._retry_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._retry_now.wait()
            pause = min(pause * 2, RETRY_MOST_S)

    async def _listen(self) -> None:
        redis = AsyncRedis.from_url(
            self._redis_url, socket_connect_timeout=5, health_check_interval=HEALTH_CHECK_S
        )
        pubsub = redis.pubsub()
        try:
            await pubsub.psubscribe(PATTERN)
            while True:
                message = await pubsub.get_message(timeout=HEALTH_CHECK_S)
                if message is not None:
                    self._handle(message)
        finally:
            # Shielded: the hub's own cancellation at shutdown must still close them.
            await asyncio.shield(_close(pubsub, redis))

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "pmessage":
            channel = message["channel"]
            job_id = (channel.decode() if isinstance(channel, bytes) else channel).removeprefix(
                CHANNEL_PREFIX
            )
            for inbox in self._inboxes.get(job_id, ()):
                inbox.ring()
        elif kind == "psubscribe":
            # Also after redis-py reconnected on its own: what was sent meanwhile is lost.
            resubscribed = self._last_error is not None or self._subscribed
            self._settle(None)
            if resubscribed:
                log.info("event hub subscribed again; its streams read their jobs anew")
                self._ring_all()

    async def _keep_time(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._tick_s)
            now = loop.time()
            for inboxes in self._inboxes.values():
                for inbox in inboxes:
                    if inbox.due <= now:
                        inbox.time_out()

    def _ring_all(self) -> None:
        for inboxes in self._inboxes.values():
            for inbox in inboxes:
                inbox.ring()


async def _close(pubsub: Any, redis: AsyncRedis) -> None:
    # redis-py's PubSub.aclose has no annotations, hence Any.
    with contextlib.suppress(RedisError, OSError):
        await pubsub.aclose()
    with contextlib.suppress(RedisError, OSError):
        await redis.aclose()
