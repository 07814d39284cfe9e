"""Which address a presigned stem link points at: the one the request came to, where
that is safe.

Compose's nginx serves the bucket on the web port, and STEMDECK_S3_PUBLIC_URL is the
public URL (http://localhost:8080 unless PUBLIC_URL says otherwise). A browser on
another machine opens the stack at the host's LAN IP; a link signed for localhost is
one it cannot fetch (and nginx's page policy, media from 'self' only, would refuse it
anyway). So where the bucket is at the app's own origin, a link is signed for the
origin the request came to: its scheme as the API trusts it (X-Forwarded-Proto from a
proxy in STEMDECK_FORWARDED_ALLOW_IPS) and its Host, but only where that host is one
the API answers to by name (STEMDECK_ALLOWED_HOSTS, the public URL's host). A Host
header is whatever the client sent: one not named there (under ALLOWED_HOSTS=*) never
appears in a link; it gets the public URL, and the log says once what to set.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit

from stemdeck.core.settings import ENV_PREFIX, Settings, is_loopback

log = logging.getLogger(__name__)

# A Host header as browsers send it: a DNS name, IPv4 or bracketed IPv6, then a port.
# Anything else (userinfo, a path, spaces) is no address a link may carry.
_HOST = re.compile(r"(?P<name>[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{1,5}))?")
# Hosts warned about, at most: under ALLOWED_HOSTS=* anyone can send new names.
_MAX_WARNED = 256


def parse_host(header: str) -> tuple[str, str] | None:
    """(name, netloc) of a Host header, lower case; None for one no URL should carry."""
    found = _HOST.fullmatch(header.strip().lower())
    if found is None:
        return None
    port = found["port"]
    if port is not None and not 0 < int(port) < 65536:
        return None
    return found["name"], found[0]


class LinkOrigins:
    """Picks the origin each request's presigned links are signed for, per settings."""

    def __init__(self, settings: Settings) -> None:
        self.follow_request = settings.bucket_at_public_origin
        self.named = settings.named_hosts
        self.store = settings.store_origin
        self.public = settings.public_origin
        public_host = parse_host(urlsplit(self.public).netloc) if self.public else None
        self.public_name = public_host[0] if public_host else None
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def for_request(self, scheme: str, host: str) -> str | None:
        """scheme://host[:port] to presign for, or None for the store's public URL."""
        parsed = parse_host(host)
        if parsed is None or scheme not in ("http", "https"):
            return None
        name, netloc = parsed
        if self.follow_request and name in self.named:
            # The public URL's own host keeps the public URL: a TLS proxy in front of
            # nginx may have told the API "http", and the same name on another port is
            # not nginx's (the API's own port, say), so it does not serve the bucket.
            if name == self.public_name:
                return None
            return f"{scheme}://{netloc}"
        self._warn_if_unreachable(scheme, name, netloc)
        return None

    def _warn_if_unreachable(self, scheme: str, name: str, netloc: str) -> None:
        if self.store is None or urlsplit(self.store).netloc == netloc:
            return
        if self.follow_request:
            advice = (
                f"If people open Stemdeck at {netloc}, add {name} to {ENV_PREFIX}ALLOWED_HOSTS "
                "(links then follow the address each request came to), or set PUBLIC_URL in "
                f"Compose's .env ({ENV_PREFIX}PUBLIC_URL and {ENV_PREFIX}S3_PUBLIC_URL "
                f"elsewhere) to {scheme}://{netloc}."
            )
        elif is_loopback(urlsplit(self.store).hostname or "") and not is_loopback(name):
            advice = (
                f"Set {ENV_PREFIX}S3_PUBLIC_URL to an address other machines reach (in "
                f"Compose: PUBLIC_URL={scheme}://{netloc} in .env, which sets it and "
                f"{ENV_PREFIX}PUBLIC_URL)."
            )
        else:
            return  # a store at its own address (a CDN, R2): links meant to point there
        with self._lock:
            if netloc in self._warned or len(self._warned) >= _MAX_WARNED:
                return
            self._warned.add(netloc)
        log.warning(
            "stem links for requests to %s point at %s: a browser that opened Stemdeck at "
            "%s plays stems only if it reaches %s too. %s",
            netloc,
            self.store,
            netloc,
            self.store,
            advice,
        )
