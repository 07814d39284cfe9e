"""This worker's name, new on every boot, and the registrations earlier boots left.

In a container the host name is the container's id and the worker is pid 1 on every
boot, so ``host.pid`` named every boot alike. A boot killed by SIGKILL or the OOM killer
cannot unregister; its RQ registration lives on until its key expires (minutes, longer
during a long job), and RQ refuses a new worker of the same name: the restarted
container exited, and was restarted into the same refusal. So the default name adds a
random part, ``host.pid.3f9a1c``; nothing reads a meaning into the name (presence
records carry ``host`` and ``pid`` as fields of their own, the healthcheck matches the
``host.`` prefix, and the reconciler finds lost jobs by their heartbeats).

The killed boot's registration is still a ghost in ``rq info`` and in the healthcheck's
eyes, so a new boot removes the registrations of its own ``host.pid`` that are
certainly dead: their presence record (or, without one, RQ's heartbeat) is older than
STALE_AFTER_BEATS intervals. It looks at start and once more when a ghost that reported
lately has had the time to go stale. A live worker elsewhere with the same host name and
pid (Compose replicas given one ``hostname:``, each pid 1) keeps reporting and is left
alone. A name given with ``--name`` is its own base: a registration of exactly that name
is waited for until it is stale and then removed; one that keeps reporting is another
live worker with that name, and this one stops saying so.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.serializers import JSONSerializer
from rq.utils import utcparse
from rq.worker_registration import get_keys

from stemdeck.core.models import utcnow
from stemdeck.core.presence import STALE_AFTER_BEATS, WORKERS_KEY, WorkerPresence, withdraw

log = logging.getLogger(__name__)

_BOOT = re.compile(r"\.[0-9a-f]{6}")


def default_base() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


def boot_name(base: str) -> str:
    """``base`` and a random part: a name no earlier boot of this container had."""
    return f"{base}.{secrets.token_hex(3)}"


def is_earlier_boot(name: str, base: str) -> bool:
    """Whether ``name`` is ``base`` itself (a given name, or a worker of an older version)
    or ``base`` with a boot's random part."""
    return name == base or (name.startswith(base) and bool(_BOOT.fullmatch(name[len(base) :])))


def last_sign_of_life(redis: Redis, name: str) -> datetime | None:
    """When the worker ``name`` last reported: its presence record, else RQ's heartbeat."""
    record = redis.hget(WORKERS_KEY, name)
    if record is not None:
        try:
            return WorkerPresence.model_validate_json(record).last_heartbeat
        except ValueError:
            pass
    beat = redis.hget(Worker.redis_worker_namespace_prefix + name, "last_heartbeat")
    try:
        return utcparse(beat.decode() if isinstance(beat, bytes) else beat) if beat else None
    except ValueError:
        return None


def _registered(redis: Redis, base: str, own: str) -> list[str]:
    """Live (undead) RQ registrations of ``base``'s earlier boots, ``own`` included."""
    prefix = Worker.redis_worker_namespace_prefix
    names = [key.removeprefix(prefix) for key in get_keys(connection=redis)]
    if own not in names and redis.exists(prefix + own):
        names.append(own)  # RQ refuses a name whose key lives, listed or not
    return [
        name
        for name in names
        if is_earlier_boot(name, base) and not redis.hexists(prefix + name, "death")
    ]


def remove(redis: Redis, name: str) -> None:
    """Unregister a dead worker as it would have itself, and drop its presence record."""
    ghost = Worker.find_by_key(
        Worker.redis_worker_namespace_prefix + name, connection=redis, serializer=JSONSerializer
    )
    if ghost is not None:
        ghost.register_death()  # type: ignore[no-untyped-call]
    withdraw(redis, name)


class EarlierBoots:
    """Clears the registrations a worker's earlier boots left (see the module's text)."""

    def __init__(self, redis: Redis, base: str, own: str, interval_s: float) -> None:
        self.redis, self.base, self.own = redis, base, own
        self.stale_after = timedelta(seconds=STALE_AFTER_BEATS * interval_s)

    def dead(self, name: str) -> bool:
        seen = last_sign_of_life(self.redis, name)
        return seen is None or utcnow() - seen > self.stale_after

    def sweep(self) -> list[str]:
        """Remove the dead ones now; return those that reported lately."""
        alive = []
        for name in _registered(self.redis, self.base, self.own):
            if self.dead(name):
                log.warning("removing the registration of %s, an earlier boot that died", name)
                remove(self.redis, name)
            else:
                alive.append(name)
        return alive

    def before_birth(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Clear the way for this boot's registration; sweep again later for ghosts that
        reported lately. Raises ValueError when a live worker has this very name."""
        alive = self.sweep()
        if self.own in alive:
            self._wait_for_own_name(sleep)
            alive.remove(self.own)
        if alive:
            later = threading.Timer(self.stale_after.total_seconds() + 1, self._sweep_quietly)
            later.daemon = True
            later.start()

    def _wait_for_own_name(self, sleep: Callable[[float], None]) -> None:
        deadline = time.monotonic() + self.stale_after.total_seconds() + 1
        while not self.dead(self.own):
            if time.monotonic() > deadline:
                raise ValueError(
                    f"a live worker named {self.own!r} is registered in Redis and still "
                    "reporting; give each worker its own --name, or leave --name out"
                )
            log.warning("a worker named %s reported lately; waiting to see it stop", self.own)
            sleep(1.0)
        remove(self.redis, self.own)

    def _sweep_quietly(self) -> None:
        try:
            self.sweep()
        except RedisError as error:
            log.warning("could not look for earlier boots' registrations: %s", error)
