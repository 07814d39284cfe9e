"""Every error leaves as JSON ``{"error": {"code", "message"}}`` with the right status.

Routes raise ``ApiError``; the handlers below also reshape FastAPI's own
validation errors, unknown routes, and dependencies that are down, so a client
never has to parse two error formats.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from stemdeck.api.request_ids import request_id_of
from stemdeck.core.accounts.quotas import QuotaRefusal
from stemdeck.core.models import utcnow
from stemdeck.core.public_errors import with_ref
from stemdeck.core.storage import NotFound, StorageError

log = logging.getLogger(__name__)

DOCS_HINT = "See /docs for the API."


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        # More fields of the error object, for clients to act on (a limit, when it resets).
        self.details = details or {}


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    ref: str | None = None,
    **extra: Any,
) -> JSONResponse:
    """The error JSON; ``ref``: the error reference the log has the details under."""
    error = {"code": code, "message": message} | ({"ref": ref} if ref else {})
    return JSONResponse({"error": error, **extra}, status_code=status, headers=headers)


# The HTTP status of each refusal code, whether it answers the request (uploads, URLs
# refused at once) or ends a URL job found bad while downloading (JobPublic.error_status).
REFUSAL_STATUS = {
    "empty_file": 400,
    "invalid_url": 400,
    "unsupported_media": 415,
    "no_audio": 415,
    "not_audio": 415,
    "unsupported_url": 415,
    "playlist_file": 415,
    "source_too_large": 413,
    "download_timeout": 408,
    "corrupt_audio": 422,
    "truncated_audio": 422,
    "audio_too_long": 422,
    "url_forbidden": 422,
    "url_unresolvable": 422,
    "source_unavailable": 422,
    "live_stream": 422,
    "playlist": 422,
    "download_failed": 422,
    "ffmpeg_missing": 503,
}


def refusal_status(code: str) -> int:
    return REFUSAL_STATUS.get(code, 422)


def job_not_found(job_id: str) -> ApiError:
    return ApiError(
        404,
        "job_not_found",
        f"No job with id {job_id!r}. It may have been deleted; "
        "GET /api/jobs lists the jobs there are.",
    )


def queue_unavailable() -> ApiError:
    return ApiError(
        503,
        "queue_unavailable",
        "The job queue (Redis) cannot be reached, so nothing was accepted. "
        "Try again in a minute; if it persists, check that Redis is running (GET /ready).",
    )


def invalid_credentials() -> ApiError:
    # One answer for an unknown email, a wrong password and a disabled account, so
    # sign-in never tells which emails have accounts.
    return ApiError(
        401,
        "invalid_credentials",
        "The email or password is wrong; check both and try again. (The first admin's "
        "are the server's STEMDECK_ADMIN_EMAIL and STEMDECK_ADMIN_PASSWORD.)",
    )


def json_required(content_type: str | None) -> ApiError:
    got = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    return ApiError(
        415,
        "unsupported_content_type",
        f"This route takes a JSON body sent as 'Content-Type: application/json'; got {got}.",
    )


def body_too_large(limit: int) -> ApiError:
    return ApiError(
        413, "too_large", f"The request body is larger than this route accepts ({limit} bytes)."
    )


def cross_site_request() -> ApiError:
    return ApiError(
        403,
        "cross_site_request",
        "Refused: a sign-in, or a change made with the sign-in cookie, must come from "
        "Stemdeck's own pages, and this request came from another site (its Origin or "
        "Sec-Fetch-Site header says so). Use Stemdeck's web app, or send an API token as "
        "'Authorization: Bearer sdk_…' from scripts.",
    )


def session_required() -> ApiError:
    # A leaked token must not be able to mint more tokens, or sign browsers out.
    return ApiError(
        403,
        "session_required",
        "Your account's sessions, API tokens and password are managed only from a signed-in "
        "browser, not with an API token: manage tokens and sessions from the web app or "
        "with `stemdeck tokens create` on the server.",
    )


def wrong_current_password() -> ApiError:
    # The code sign-in gives a wrong password: the web app knows it does not mean
    # "signed out", as every other 401 does.
    return ApiError(
        401,
        "invalid_credentials",
        "The current password is wrong; nothing was changed. Wrong passwords count "
        "towards the same limit as failed sign-ins.",
    )


def session_not_found(handle: str) -> ApiError:
    return ApiError(
        404,
        "session_not_found",
        f"None of your sessions has the id {handle!r}: it may have ended already. "
        "GET /api/account/sessions lists them.",
    )


def token_not_found(token_id: str) -> ApiError:
    return ApiError(
        404,
        "token_not_found",
        f"None of your API tokens has the id {token_id!r}: it may be revoked already. "
        "GET /api/account/tokens lists them.",
    )


# The Retry-After of a limit no clock lifts (jobs at once, storage): what frees it is
# a job finishing or the user deleting jobs; a client polling this often is harmless.
NO_CLOCK_RETRY_AFTER_S = 60


def over_limit(
    code: str,
    message: str,
    *,
    limit: str,
    used: float,
    allowed: int,
    retry_after_s: int | None,
    resets_at: datetime | None,
) -> ApiError:
    """429 for a quota or rate limit: which one, how much is used of how much, and when
    it resets (None: no clock resets it; the message says what to do, and Retry-After
    is a modest NO_CLOCK_RETRY_AFTER_S)."""
    wait = retry_after_s if retry_after_s is not None else NO_CLOCK_RETRY_AFTER_S
    return ApiError(
        429,
        code,
        message,
        headers={"Retry-After": str(wait)},
        details={
            "limit": limit,
            "used": used,
            "allowed": allowed,
            "retry_after_s": wait,
            "resets_at": resets_at.isoformat() if resets_at is not None else None,
        },
    )


def quota_exceeded(refusal: QuotaRefusal) -> ApiError:
    resets_at = refusal.resets_at
    # Rounded up: a client that waits that long is let in.
    retry_after_s = max(1, math.ceil((resets_at - utcnow()).total_seconds())) if resets_at else None
    return over_limit(
        "quota_exceeded",
        refusal.message,
        limit=refusal.limit.value,
        used=refusal.used,
        allowed=refusal.allowed,
        retry_after_s=retry_after_s,
        resets_at=resets_at,
    )


def _describe_validation(error: RequestValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", ""))
    return "Invalid request: " + "; ".join(problems) + ". " + DOCS_HINT


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
}


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    body = {"error": {"code": error.code, "message": error.message, **error.details}}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    if status == 404:
        message = f"There is nothing at {request.url.path}. {DOCS_HINT}"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}. {DOCS_HINT}"
    else:
        message = str(error.detail)
    code = _HTTP_CODES.get(status, "http_error")
    return error_response(status, code, message, dict(error.headers or {}))


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return error_response(422, "invalid_request", _describe_validation(error))


def _logged(
    request: Request, status: int, code: str, message: str, error: Exception
) -> JSONResponse:
    """A failure inside the server: the answer says what to do and carries the request's
    id as its error reference; the exception, which may name addresses and paths, only
    goes to the log, on a line with the same request_id."""
    ref = request_id_of(request.scope)
    what = f"{type(error).__name__}: {error}"
    log.error("%s, error reference %s: %s", code, ref, what, exc_info=status == 500)
    return error_response(status, code, with_ref(message, ref), ref=ref)


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    return _logged(
        request,
        503,
        "database_unavailable",
        "The database cannot be reached. Try again in a minute; if it persists, "
        "check the database (GET /ready).",
        error,
    )


async def _redis_error(request: Request, error: Exception) -> JSONResponse:
    unavailable = queue_unavailable()
    return _logged(request, unavailable.status, unavailable.code, unavailable.message, error)


async def _storage_error(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, NotFound):
        # A row points at a file that is gone: the job's files were removed by hand.
        return error_response(
            404, "file_missing", "This file is no longer stored. Delete the job and run it again."
        )
    return _logged(
        request,
        503,
        "storage_unavailable",
        "File storage cannot be reached. Try again in a minute; if it persists, "
        "check the storage (GET /ready).",
        error,
    )


async def _client_gone(request: Request, _: Exception) -> JSONResponse:
    # Not a server fault: the client hung up mid-upload. Nobody reads this answer.
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return error_response(400, "client_disconnected", "The upload was interrupted; send it again.")


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    response = _logged(
        request,
        500,
        "internal_error",
        "Something went wrong on the server. Try again, and report it with the error "
        "reference if it keeps happening.",
        error,
    )
    # Starlette sends this answer outside every middleware, RequestIds too.
    response.headers["X-Request-ID"] = request_id_of(request.scope)
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Dependencies going down mid-request: a 503 that says what to check, not a 500.
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(InterfaceError, _database_error)
    app.add_exception_handler(RedisConnectionError, _redis_error)
    app.add_exception_handler(RedisTimeoutError, _redis_error)
    app.add_exception_handler(StorageError, _storage_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)


def sign_in_off() -> ApiError:
    return ApiError(
        409,
        "sign_in_off",
        "This server runs STEMDECK_AUTH=none: there are no accounts to sign in to and no "
        "passwords to change; every request already acts as the local admin "
        "(GET /api/auth/me).",
    )


def password_sign_in_off() -> ApiError:
    return ApiError(
        403,
        "password_sign_in_off",
        "Password sign-in is turned off on this server (STEMDECK_OIDC_ONLY=true): sign in "
        "with its provider instead, on the web app's sign-in page or at "
        "GET /api/auth/oidc/login. Scripts use an API token.",
    )


def user_not_found(user_id: str) -> ApiError:
    return ApiError(
        404, "user_not_found", f"No user with id {user_id!r}; GET /api/admin/users lists them."
    )


def invite_not_found(invite_id: str) -> ApiError:
    return ApiError(
        404,
        "invite_not_found",
        f"No unused invite with id {invite_id!r}; GET /api/admin/invites lists them.",
    )


def invite_invalid(message: str) -> ApiError:
    # 410: the link existed once (or never); either way it will not work again.
    return ApiError(410, "invite_invalid", f"{message[:1].upper()}{message[1:]}.")


def email_taken(message: str) -> ApiError:
    return ApiError(409, "email_taken", f"{message[:1].upper()}{message[1:]}.")
