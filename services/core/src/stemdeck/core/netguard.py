"""The server-side request guard for URL ingest: only public addresses, on every connection.

A URL is checked when it is submitted (scheme, host, every address it resolves
to), but that alone does not stop redirects, media URLs found inside HTML pages
or DNS rebinding (a name that resolves to a public address when checked and to
127.0.0.1 when connected). So the download process also installs
``install_socket_guard``: every ``socket.connect`` in it checks the numeric
address it is about to reach, which is the address actually connected, however
the name was spelled or resolved. Hex or decimal IPv4 spellings
(``0x7f000001``), ``[::1]`` and IPv4-mapped IPv6 all end up as that address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
ALLOWED_SCHEMES = frozenset({"http", "https"})
# What STEMDECK_INGEST_ALLOW_LOOPBACK admits: the two usual loopback addresses only, so the
# rest of 127.0.0.0/8 still shows the guard at work in tests.
TEST_LOOPBACK = frozenset({ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")})
# NAT64 (RFC 6052) carries an IPv4 address in the low 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UrlRefused(Exception):
    """A URL or address the guard will not fetch; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class GuardedConnectionRefused(ConnectionRefusedError):
    """Raised inside the socket layer; an OSError so HTTP libraries fail the request cleanly."""


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return address


def address_refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why ``address`` may not be fetched, or None when it is a public address."""
    inner = _embedded_ipv4(address)
    if allow_loopback and inner in TEST_LOOPBACK:
        return None
    for candidate in {address, inner}:
        if candidate.is_loopback:
            return f"{address} is a loopback address"
        if candidate.is_link_local:
            return f"{address} is a link-local address (cloud metadata lives there)"
        if candidate.is_private:
            return f"{address} is a private address"
        if candidate.is_multicast or candidate.is_unspecified or candidate.is_reserved:
            return f"{address} is not a unicast address"
        if not candidate.is_global:
            return f"{address} is not a public address"
    return None


def _forbidden(url_host: str, reason: str) -> UrlRefused:
    return UrlRefused(
        "url_forbidden",
        f"Stemdeck will not fetch from {url_host}: {reason}. Only public http(s) "
        "addresses can be fetched; download the file yourself and upload it instead.",
    )


def parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or UrlRefused saying what is wrong with it."""
    text = url.strip()
    if not text or len(text) > MAX_URL_LENGTH:
        raise UrlRefused("invalid_url", f"Send a URL of 1 to {MAX_URL_LENGTH} characters in 'url'.")
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in text):
        raise UrlRefused("invalid_url", "The URL contains spaces or control characters.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise UrlRefused(
            "invalid_url", "The URL cannot be read: check its host and port (1 to 65535)."
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UrlRefused(
            "invalid_url",
            f"Only http:// and https:// URLs can be fetched (got {scheme or 'no scheme'!r}).",
        )
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("invalid_url", "URLs with a user name or password are not accepted.")
    host = parts.hostname
    if not host:
        raise UrlRefused("invalid_url", "The URL has no host name.")
    return scheme, host, port or (443 if scheme == "https" else 80)


def resolve_checked(host: str, port: int, *, allow_loopback: bool = False) -> list[IPAddress]:
    """Every address ``host`` resolves to, all public, or UrlRefused."""
    try:
        infos = _original_getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        # The resolver's own words carry an errno tag; a name server that did not answer
        # is worth a retry, a name that does not exist is not.
        later = isinstance(error, socket.gaierror) and error.errno == socket.EAI_AGAIN
        why = "the name server did not answer; try again later" if later else "check the URL"
        raise UrlRefused(
            "url_unresolvable", f"The host {host!r} cannot be resolved: {why}."
        ) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    for address in addresses:
        if reason := address_refusal(address, allow_loopback=allow_loopback):
            raise _forbidden(host, reason)
    return addresses


def check_url(url: str, *, allow_loopback: bool = False) -> str:
    """Check a URL before it is accepted; returns it stripped. Raises UrlRefused."""
    _scheme, host, port = parse_url(url)
    resolve_checked(host, port, allow_loopback=allow_loopback)
    return url.strip()


_original_getaddrinfo = socket.getaddrinfo
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex


class SocketGuard:
    """Refuses connections to non-public addresses in this whole process; records each."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback
        self.refusals: list[str] = []

    def check(self, sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            self._refuse(f"{sock.family!r} sockets are not allowed")
        try:
            ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        except (ValueError, IndexError, TypeError):
            # connect() with a name: refused, since the name could resolve to another
            # address than the one checked; callers connect to numeric addresses.
            self._refuse(f"an unresolved address {address!r}")
        if reason := address_refusal(ip, allow_loopback=self.allow_loopback):
            self._refuse(reason)

    def _refuse(self, reason: str) -> NoReturn:
        self.refusals.append(reason)
        raise GuardedConnectionRefused(f"refused by Stemdeck's URL guard: {reason}")

    def connect(self) -> Callable[..., None]:
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            guard.check(sock, address)
            _original_connect(sock, address)

        return connect

    def connect_ex(self) -> Callable[..., int]:
        guard = self

        def connect_ex(sock: socket.socket, address: Any) -> int:
            guard.check(sock, address)
            return _original_connect_ex(sock, address)

        return connect_ex


def install_socket_guard(*, allow_loopback: bool = False) -> SocketGuard:
    """Guard every later connection of this process (the download process, not the worker)."""
    guard = SocketGuard(allow_loopback=allow_loopback)
    socket.socket.connect = guard.connect()  # type: ignore[method-assign]
    socket.socket.connect_ex = guard.connect_ex()  # type: ignore[method-assign]
    return guard


def remove_socket_guard() -> None:
    socket.socket.connect = _original_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _original_connect_ex  # type: ignore[method-assign]
