"""/api/formats: the output formats a job can ask for, as core declares them."""

from __future__ import annotations

from fastapi import APIRouter

from stemdeck.api.deps import SettingsDep
from stemdeck.api.schemas import FormatPublic
from stemdeck.core.formats import FORMATS

router = APIRouter(prefix="/formats", tags=["formats"])


@router.get("", name="list_formats", summary="Output formats, their labels and the defaults")
def list_formats(settings: SettingsDep) -> list[FormatPublic]:
    return [
        FormatPublic(
            id=fmt.id,
            label=fmt.label,
            extension=fmt.extension,
            media_type=fmt.media_type,
            lossless=fmt.lossless,
            default=fmt.id in settings.default_formats,
        )
        for fmt in FORMATS.values()
    ]
