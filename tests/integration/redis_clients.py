"""The Redis connections one process holds, as Redis itself lists them (CLIENT LIST).

Other processes share the server (other tests, other stacks), so counting all of its
clients would count theirs too: a connection is the process's when its address, as
Redis sees it, is one of the process's own sockets.
"""

from __future__ import annotations

from typing import Any

import psutil
from redis import Redis


def clients_of(redis: Redis, pid: int) -> list[dict[str, Any]]:
    """CLIENT LIST's entries for the connections process ``pid`` holds to ``redis``."""
    ours = {
        f"{conn.laddr.ip}:{conn.laddr.port}"
        for conn in psutil.Process(pid).net_connections(kind="tcp")
        if conn.raddr
    }
    return [client for client in redis.client_list() if client["addr"] in ours]


def subscribers_of(redis: Redis, pid: int) -> list[dict[str, Any]]:
    """Those of them that subscribe, to a pattern or to a channel."""
    return [
        client
        for client in clients_of(redis, pid)
        if int(client.get("psub", 0)) or int(client.get("sub", 0))
    ]
