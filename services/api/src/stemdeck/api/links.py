"""Short-lived signed links to stored files, for a store that cannot presign its own.

An authenticated stem or waveform URL answers with a redirect to a URL that works
without credentials for STEMDECK_LINK_TTL_S: S3's presigned URL, or one of these,
``/api/files/{token}``. So ``<audio>``, download links and scripts with a bearer token
fetch the same way from either store, and no file is reachable without a fresh link.

The token is a JWT made with joserfc, HS256 pinned when signing and when reading (a
token naming ``none`` or any other algorithm is refused), under the "stem-link" purpose
key (core.signing). Its claims are readable by whoever holds it, so they name the file
by the job the link was made for (its id, the stem, the format or waveform kind), never
by its storage key: under dedup a stem's key may lie under another user's job id.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey

from stemdeck.api.errors import ApiError
from stemdeck.core.settings import Settings
from stemdeck.core.signing import purpose_key

PURPOSE = "stem-link"
ALGORITHM = "HS256"
# Ours are about 250 characters; anything far longer is not one, and is refused unread.
MAX_TOKEN_LENGTH = 2048
# A waveform's part; every other part is a format id (core.formats.FORMATS).
WAVEFORM_PART = "waveform."

_REGISTRY = jwt.JWTClaimsRegistry(exp={"essential": True})


@dataclass(frozen=True)
class FileRef:
    """A file as the job it was asked for names it."""

    job_id: str
    stem: str
    part: str  # a format id ("flac"), or "waveform.json" / "waveform.png"
    download: bool = False

    @property
    def origin_path(self) -> str:
        """The authenticated URL that hands out links to this file."""
        base = f"/api/jobs/{self.job_id}"
        if self.part.startswith(WAVEFORM_PART):
            return f"{base}/waveforms/{self.stem}.{self.part.removeprefix(WAVEFORM_PART)}"
        return f"{base}/stems/{self.stem}.{self.part}" + ("?download=1" if self.download else "")


def _key(settings: Settings) -> OctKey:
    return OctKey.import_key(purpose_key(settings, PURPOSE))


def sign_link(settings: Settings, ref: FileRef) -> str:
    # Rounded up: a link lives at least the whole lifetime, never a moment less.
    expires = math.ceil(time.time() + settings.link_ttl_s)
    claims = {
        "job": ref.job_id,
        "stem": ref.stem,
        "part": ref.part,
        "dl": ref.download,
        "exp": expires,
    }
    return jwt.encode({"alg": ALGORITHM}, claims, _key(settings), algorithms=[ALGORITHM])


def read_link(settings: Settings, token: str) -> FileRef:
    """The file a link names; ApiError 403 ``link_invalid`` for one this server did not
    sign as it is (altered, another algorithm, another key), 410 ``link_expired``."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise link_invalid()
    try:
        decoded = jwt.decode(token, _key(settings), algorithms=[ALGORITHM])
    except (JoseError, ValueError):
        raise link_invalid() from None
    if decoded.header.get("alg") != ALGORITHM:
        raise link_invalid()
    ref = _ref(decoded.claims)
    try:
        _REGISTRY.validate(decoded.claims)
    except ExpiredTokenError:
        raise link_expired(ref) from None
    except JoseError:
        raise link_invalid() from None
    return ref


def _ref(claims: dict[str, Any]) -> FileRef:
    job, stem, part, download = (claims.get(name) for name in ("job", "stem", "part", "dl"))
    if not (
        isinstance(job, str)
        and isinstance(stem, str)
        and isinstance(part, str)
        and isinstance(download, bool)
    ):
        # Signed with the link key yet not shaped as a link: refused, not guessed at.
        raise link_invalid()
    return FileRef(job, stem, part, download)


def link_invalid() -> ApiError:
    return ApiError(
        403,
        "link_invalid",
        "This file link is not valid: it was changed, cut short, or not made by this "
        "server. Open the stem again from its job (GET /api/jobs/{id} lists each stem's "
        "URLs), which redirects to a fresh link.",
    )


def link_expired(ref: FileRef) -> ApiError:
    return ApiError(
        410,
        "link_expired",
        "This file link has expired (links work for STEMDECK_LINK_TTL_S seconds). Fetch "
        f"the stem link again from the job: GET {ref.origin_path} redirects to a fresh one.",
    )
