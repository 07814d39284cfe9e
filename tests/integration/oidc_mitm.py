"""A man in the middle on 127.0.0.1 between Stemdeck and a real OIDC provider: an HTTP
forward proxy (the API's Authlib client reaches it through HTTP_PROXY) that passes every
request on unchanged and rewrites the ID token in the token endpoint's answer.

That is how a forged or altered ID token would reach Stemdeck in the code flow (the
browser never carries it), so it tests the signature check against the provider's own
keys rather than a token built by the test alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Tamper = Callable[[str], str]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def encode(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


def changed_claims(**claims: Any) -> Tamper:
    """The provider's signature kept over a payload with ``claims`` changed."""

    def tamper(token: str) -> str:
        header, payload, signature = parts(token)
        return f"{encode(header, {**payload, **claims})}.{signature}"

    return tamper


def alg_none(token: str) -> str:
    """The same claims, 'signed' with alg none (an empty signature)."""
    header, payload, _ = parts(token)
    return encode({**header, "alg": "none"}, payload) + "."


def hmac_with(secret: bytes) -> Tamper:
    """The same claims signed HS256 with ``secret``: given the provider's public key
    (PEM), the algorithm-confusion forgery that a verifier trusting the header falls for."""

    def tamper(token: str) -> str:
        header, payload, _ = parts(token)
        signing_input = encode({**header, "alg": "HS256"}, payload)
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(signature)}"

    return tamper


class _Proxy(BaseHTTPRequestHandler):
    tamper: Tamper
    tampered: list[str]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in {"host", "proxy-connection", "connection", "content-length"}
        }
        # self.path is the absolute URL a client asks a proxy for.
        with httpx.Client(trust_env=False, timeout=15) as upstream:
            answer = upstream.request(self.command, self.path, headers=headers, content=body)
        content = answer.content
        if self.path.split("?", 1)[0].endswith("/token") and answer.status_code == 200:
            token = answer.json()
            if "id_token" in token:
                token["id_token"] = self.tamper(token["id_token"])
                self.tampered.append(token["id_token"])
                content = json.dumps(token).encode()
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()


@contextmanager
def tampering_proxy(tamper: Tamper) -> Iterator[tuple[str, list[str]]]:
    """(the proxy's URL, the ID tokens it rewrote), while it runs."""
    handler = type("Proxy", (_Proxy,), {"tamper": staticmethod(tamper), "tampered": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.tampered
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
