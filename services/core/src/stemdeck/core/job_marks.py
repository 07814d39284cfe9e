"""Change marks: a fresh random value in Redis under a key each time what the key covers
changes, so a process can tell that what it built from the database is still right
with one Redis read instead of a database one (api/bodies.py).

Every lifecycle change sets, after its commit and before anyone hears of it:

- its job's mark;
- its owner's mark (the lists of that user's jobs);
- the queue mark, unless it is only progress: a job came, went or moved, so places in
  line moved;
- the mark of every job (an admin's list of everyone's jobs).

The queue mark is also set when what places in line are estimated from changes without
a job changing: a worker comes or goes (core/presence.py), a speed is measured
(core/speed.py).

A reader takes the marks before it reads the database and keeps them with what it
built; what it kept is right while those marks stay the same. A missing mark (never
set, expired, Redis restarted) is set to a fresh value by the reader first: being
random, it cannot repeat one that something was kept with, as a counter starting over
could.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from redis import Redis

from stemdeck.core.lifecycle import JobChange, Transition

# A job's and an owner's marks go a day after their last change; the next reader sets
# a fresh one.
MARK_TTL_S = 24 * 3600
QUEUE_MARK = "stemdeck:mark:queue"
EVERY_JOB_MARK = "stemdeck:mark:jobs"

Marks = tuple[str, ...]


def job_mark(job_id: str) -> str:
    return f"stemdeck:mark:job:{job_id}"


def owner_mark(owner_id: str) -> str:
    return f"stemdeck:mark:owner:{owner_id}"


def fresh_mark() -> str:
    return secrets.token_hex(8)


def marks_changed_by(change: JobChange) -> list[str]:
    keys = [job_mark(change.job_id), EVERY_JOB_MARK]
    if change.owner_id is not None:
        keys.append(owner_mark(change.owner_id))
    if change.transition is not Transition.progress:
        keys.append(QUEUE_MARK)
    return keys


def mark_queue_changed(redis: Redis) -> None:
    redis.set(QUEUE_MARK, fresh_mark(), ex=MARK_TTL_S)


def read_marks(redis: Redis, keys: Sequence[str]) -> Marks:
    """The marks of ``keys`` now, each missing one set fresh first; one round trip."""
    pipe = redis.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, fresh_mark(), ex=MARK_TTL_S, nx=True)
    pipe.mget(keys)
    *_, values = pipe.execute()
    return tuple(value.decode() for value in values)
