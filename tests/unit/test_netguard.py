"""The URL guard: which URLs and addresses may be fetched, and the socket-level check."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator

import pytest

from stemdeck.core.netguard import (
    GuardedConnectionRefused,
    UrlRefused,
    address_refusal,
    check_url,
    install_socket_guard,
    parse_url,
    remove_socket_guard,
)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "255.255.255.255",
        "::ffff:127.0.0.1",  # IPv4-mapped IPv6
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "192.0.2.1",  # documentation
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    reason = address_refusal(ipaddress.ip_address(address))
    assert reason is not None and str(ipaddress.ip_address(address)) in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_the_test_allowance_admits_the_two_loopback_addresses_only() -> None:
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert address_refusal(ipaddress.ip_address(address), allow_loopback=True) is None
    for address in ("127.0.0.2", "10.0.0.1", "169.254.169.254", "192.168.0.1"):
        assert address_refusal(ipaddress.ip_address(address), allow_loopback=True) is not None


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("", "invalid_url"),
        ("ftp://example.com/a.mp3", "invalid_url"),
        ("file:///etc/passwd", "invalid_url"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "invalid_url"),
        ("example.com/a.mp3", "invalid_url"),
        ("http://user:pw@example.com/a.mp3", "invalid_url"),
        ("http:///a.mp3", "invalid_url"),
        ("http://exa mple.com/", "invalid_url"),
        ("http://example.com:99999/", "invalid_url"),
        ("http://" + "a" * 3000 + ".com/", "invalid_url"),
        ("http://127.0.0.1/a.mp3", "url_forbidden"),
        ("http://[::1]:8000/a.mp3", "url_forbidden"),
        ("http://0x7f000001/a.mp3", "url_forbidden"),
        ("http://2130706433/a.mp3", "url_forbidden"),
        ("http://0177.0.0.1/a.mp3", "url_forbidden"),
        ("http://127.1/a.mp3", "url_forbidden"),
        ("http://[::ffff:127.0.0.1]/a.mp3", "url_forbidden"),
        ("http://169.254.169.254/latest/meta-data/", "url_forbidden"),
        ("http://localhost:6379/", "url_forbidden"),
        ("https://10.1.2.3/x", "url_forbidden"),
        ("http://no-such-host.invalid/a.mp3", "url_unresolvable"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url: str, code: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url)
    assert refused.value.code == code
    assert len(refused.value.message) > 20
    # What a parser or resolver raised is not shown: no errno tags, no exception text.
    assert "Errno" not in refused.value.message
    assert "out of range" not in refused.value.message


def test_a_loopback_url_passes_only_when_allowed() -> None:
    assert (
        check_url(" http://127.0.0.1:9/a.mp3 ", allow_loopback=True) == "http://127.0.0.1:9/a.mp3"
    )
    assert parse_url("https://example.com/a.mp3") == ("https", "example.com", 443)


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


def test_the_socket_guard_checks_the_address_actually_connected(listener: int) -> None:
    """GIVEN the guard installed WHEN anything connects THEN the numeric peer is what is checked,
    however the name was spelled or resolved (so DNS rebinding gains nothing)."""
    guard = install_socket_guard(allow_loopback=False)
    try:
        for host in ("127.0.0.1", "localhost", "0x7f000001"):
            with pytest.raises(GuardedConnectionRefused):
                socket.create_connection((host, listener), timeout=2)
        with socket.socket() as raw, pytest.raises(GuardedConnectionRefused):
            raw.connect(("127.0.0.1", listener))
        with socket.socket() as raw, pytest.raises(GuardedConnectionRefused):
            raw.connect_ex(("127.0.0.1", listener))
        assert len(guard.refusals) == 5
        assert all("loopback" in reason for reason in guard.refusals)
    finally:
        remove_socket_guard()
    socket.create_connection(("127.0.0.1", listener), timeout=2).close()


def test_the_socket_guard_with_loopback_allowed_still_refuses_private(listener: int) -> None:
    guard = install_socket_guard(allow_loopback=True)
    try:
        socket.create_connection(("127.0.0.1", listener), timeout=2).close()
        with socket.socket() as raw, pytest.raises(GuardedConnectionRefused):
            raw.connect(("10.255.255.1", 80))
        with socket.socket(socket.AF_UNIX) as unix, pytest.raises(GuardedConnectionRefused):
            unix.connect("/run/some.sock")
        assert len(guard.refusals) == 2
    finally:
        remove_socket_guard()


def test_the_download_refuses_live_streams_and_counts_real_bytes() -> None:
    """yt-dlp's max_filesize trusts Content-Length; the hook counts what arrives."""
    from stemdeck.worker.fetch import FetchRequest, Refusal, _options, _QuietLogger

    state: dict[str, object] = {}
    request = FetchRequest("http://example.com/a", "/tmp", 1000, 60.0, False)
    options = _options(request, _QuietLogger(), state)
    check = options["match_filter"]
    assert check({"is_live": True}, incomplete=False) == "live stream"
    assert check({"live_status": "is_upcoming"}, incomplete=False) == "live stream"
    assert check({"duration": 61}, incomplete=False) == "too long"
    assert check({"duration": 59}, incomplete=False) is None
    hook = options["progress_hooks"][0]
    hook({"downloaded_bytes": 1000})
    with pytest.raises(Refusal):
        hook({"downloaded_bytes": 1001})
    assert state == {"live": True, "too_long": 61.0, "too_large": True}
    assert options["noplaylist"] and options["proxy"] == "" and options["cookiefile"] is None
    assert options["postprocessors"] == []


def test_dns_rebinding_gains_nothing(monkeypatch: pytest.MonkeyPatch, listener: int) -> None:
    """GIVEN a name that resolves to a public address when the URL is checked and to
    127.0.0.1 when the download connects WHEN it connects THEN the guard refuses it."""
    from stemdeck.core import netguard

    answers = iter(["93.184.215.14", "127.0.0.1"])

    def rebinding(host: str, port: object, *args: object, **kwargs: object) -> list[object]:
        address = next(answers) if host == "rebind.example" else host
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(netguard, "_original_getaddrinfo", rebinding)
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    assert check_url(f"http://rebind.example:{listener}/a.mp3")  # looked public when checked

    guard = install_socket_guard(allow_loopback=False)
    try:
        with pytest.raises(GuardedConnectionRefused):
            socket.create_connection(("rebind.example", listener), timeout=2)
    finally:
        remove_socket_guard()
    assert guard.refusals == ["127.0.0.1 is a loopback address"]
