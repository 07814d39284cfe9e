"""What goes wrong, said so the user knows what to do, with the exit code it ends with."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `stemdeck` starts without httpx; the commands import it
    import httpx

# Exit codes: a job or request that failed (1); a setup the user must fix first: no
# server, a bad URL or file, a token refused (2, as click's usage errors).
FAILED_EXIT = 1
CONFIG_EXIT = 2

HOW_TO_GET_A_TOKEN = (
    "Create an API token on the web app's Account page (API tokens), or on the server "
    "with `stemdeck tokens create EMAIL --scope jobs:read --scope jobs:write`, then run "
    "`stemdeck remote login` (or pass --token / set STEMDECK_TOKEN)."
)


class RemoteError(Exception):
    def __init__(
        self, message: str, exit_code: int = FAILED_EXIT, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.status = status  # the HTTP status of a refusal


def server_message(response: httpx.Response) -> tuple[str, str] | None:
    """The ``{"error": {"code", "message"}}`` every Stemdeck error carries, or None for
    a body that is not one (a proxy's page, say)."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, str) or not isinstance(message, str):
        return None
    return code, message


def answer_error(response: httpx.Response) -> RemoteError:
    """The server's refusal, worded as the server worded it."""
    request = response.request
    found = server_message(response)
    if found is None:
        return RemoteError(
            f"{request.method} {request.url} answered HTTP {response.status_code} without a "
            "Stemdeck error body; is --server the Stemdeck server's address?",
            status=response.status_code,
        )
    code, message = found
    if response.status_code == 401:
        return RemoteError(
            f"The server refused the sign-in: {message} ({code})\n{HOW_TO_GET_A_TOKEN}",
            CONFIG_EXIT,
            401,
        )
    if response.status_code == 403:
        return RemoteError(f"{message} ({code})", CONFIG_EXIT, 403)
    return RemoteError(
        f"{message} ({code}, HTTP {response.status_code})", status=response.status_code
    )


def unreachable(server: str, error: httpx.TransportError) -> RemoteError:
    return RemoteError(
        f"Cannot reach the Stemdeck server at {server}: {type(error).__name__}: {error}. "
        "Check the address (--server, STEMDECK_SERVER or `stemdeck remote login`) and that "
        "the server is up."
    )
