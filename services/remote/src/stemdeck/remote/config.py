"""Which server and token to use: a flag, else the environment, else the file that
`stemdeck remote login` wrote ($XDG_CONFIG_HOME/stemdeck/remote.json, mode 0600)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from stemdeck.remote.errors import CONFIG_EXIT, RemoteError

SERVER_ENV = "STEMDECK_SERVER"
TOKEN_ENV = "STEMDECK_TOKEN"


@dataclass(frozen=True)
class Remote:
    server: str  # http(s)://host[:port][/prefix], no trailing slash
    token: str | None  # None: a server with STEMDECK_AUTH=none needs none


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "stemdeck" / "remote.json"


def normal_server(url: str) -> str:
    """The server's base URL, checked: what a typo would otherwise turn into an odd
    connection error."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise RemoteError(
            f"The server must be an http(s) URL like https://stemdeck.example.com "
            f"or http://127.0.0.1:8000, not {url!r}.",
            CONFIG_EXIT,
        )
    if parts.query or parts.fragment:
        raise RemoteError(f"The server URL {url!r} must have no ?query or #fragment.", CONFIG_EXIT)
    return url


def read_saved() -> dict[str, str]:
    path = config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise RemoteError(f"Cannot read {path}: {error.strerror}.", CONFIG_EXIT) from error
    try:
        saved = json.loads(text)
    except ValueError:
        saved = None
    if not isinstance(saved, dict) or not all(isinstance(v, str) for v in saved.values()):
        raise RemoteError(
            f"{path} is not what `stemdeck remote login` writes; delete it "
            "(`stemdeck remote logout`) and log in again.",
            CONFIG_EXIT,
        )
    return saved


def resolve(server: str | None, token: str | None) -> Remote:
    """Flags and environment come in through typer (``envvar``) as ``server``/``token``;
    what they leave unset comes from the saved file."""
    saved = read_saved() if server is None or token is None else {}
    chosen = server or saved.get("server")
    if not chosen:
        raise RemoteError(
            "No server configured: pass --server URL, set STEMDECK_SERVER, or run "
            "`stemdeck remote login --server URL` once.",
            CONFIG_EXIT,
        )
    # A token saved for another server is not sent to this one.
    same_server = saved.get("server") == normal_server(chosen)
    return Remote(normal_server(chosen), token or (saved.get("token") if same_server else None))


def save(remote: Remote) -> Path:
    """Written whole, then moved into place; readable by this user alone (0600 file in a
    0700 folder), as it holds a token."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = json.dumps({"server": remote.server} | ({"token": remote.token} if remote.token else {}))
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # also when an older file of this name was laxer
        with os.fdopen(descriptor, "w") as handle:
            handle.write(body + "\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def forget() -> Path | None:
    """The file removed, or None when there was none."""
    path = config_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path
