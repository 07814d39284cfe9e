"""Error references and the text a failure may show: no server paths, URLs or errno tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from stemdeck.core.public_errors import REF_PATTERN, public_text, with_ref


def test_a_message_with_its_reference_says_where_the_details_are() -> None:
    shown = with_ref("The separation failed. ", "3f9c2a7e1b4d8c06")
    assert shown == (
        "The separation failed. (Error reference 3f9c2a7e1b4d8c06: the server's log has "
        "the details.)"
    )


@pytest.mark.parametrize("ref", ["3f9c2a7e1b4d8c06", "edge-1:req.42_a"])
def test_the_reference_is_found_again_in_the_message(ref: str) -> None:
    found = REF_PATTERN.search(with_ref("Try again in a minute.", ref))
    assert found is not None and found[1] == ref


def test_files_under_a_root_are_named_relative_to_it() -> None:
    text = "demucs:htdemucs cannot load /srv/stemdeck/models/demucs/955717e8.th: truncated"
    shown = public_text(text, [Path("/srv/stemdeck/models")])
    assert shown == "demucs:htdemucs cannot load demucs/955717e8.th: truncated"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "downloading it from https://dl.example.com/demucs/x.th failed "
            "([Errno 111] Connection refused)",
            "downloading it from [URL] failed (Connection refused)",
        ),
        (
            "[Errno 17] File exists: '/tmp/pytest-7/data/models/demucs'",
            "File exists: '[path]'",
        ),
        (
            "Error opening '/var/tmp/stemdeck-upload-1/source.wav': bad",
            "Error opening '[path]': bad",
        ),
        ("s3://bucket/jobs/x/source.wav is gone", "[URL] is gone"),
        (
            "cannot be decoded ([aac @ 0x559fd8311a40] Number of bands (51) exceeds limit).",
            "cannot be decoded (aac: Number of bands (51) exceeds limit).",
        ),
    ],
)
def test_paths_urls_and_errno_tags_are_taken_out(text: str, shown: str) -> None:
    assert public_text(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "Check that it is running and reachable (GET /ready), then submit the song again.",
        "GET /api/jobs lists the jobs there are; see /docs for the API.",
        "Choose wav/flac, or ask the admin to raise STEMDECK_JOB_TIMEOUT_BASE_S / _PER_AUDIO_S.",
        "spleeter/2stems.safetensors in the models directory does not match its SHA-256.",
        "It took 0.5/1 of the time; 24/7 service.",
    ],
)
def test_the_words_of_ordinary_messages_stay(text: str) -> None:
    assert public_text(text) == text
