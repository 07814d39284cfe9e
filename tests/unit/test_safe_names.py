"""Names from outside (file names, page titles) and the zip entries made from them: none
may climb out of a folder, hide characters, or pass for a path."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stemdeck.api.filenames import (
    MAX_TITLE_BYTES,
    content_disposition,
    song_title,
    stem_filename,
    zip_filename,
)
from stemdeck.api.zipstream import EMPTY_PART, ZipEntry, entry_name, zip_chunks
from stemdeck.core.models import Job
from stemdeck.core.names import FALLBACK_NAME, MAX_NAME_CHARS, display_name, title_name
from stemdeck.core.settings import Settings
from stemdeck.core.storage import make_storage


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("Song", "vocals.flac"), "Song/vocals.flac"),
        (("..", "vocals.flac"), f"{EMPTY_PART}/vocals.flac"),
        ((".", "vocals.flac"), f"{EMPTY_PART}/vocals.flac"),
        (("../../etc", "passwd"), "_.._etc/passwd"),
        (("..\\..\\Windows", "x.flac"), "_.._Windows/x.flac"),
        (("/etc", "vocals.flac"), "_etc/vocals.flac"),
        (("C:", "vocals.flac"), "C_/vocals.flac"),
        (("a\x00b\x1b[31m\nc", "v.flac"), "ab[31mc/v.flac"),
        (("song\u202egnp", "v.flac"), "songgnp/v.flac"),  # right-to-left override
        ((" ... ", "v.flac"), f"{EMPTY_PART}/v.flac"),
        (("Café Déjà vu", "vocals.24bit.wav"), "Café Déjà vu/vocals.24bit.wav"),
        ((), EMPTY_PART),
    ],
)
def test_entry_names_stay_inside_the_folder_they_unpack_into(
    parts: tuple[str, ...], expected: str
) -> None:
    name = entry_name(*parts)

    assert name == expected
    assert not name.startswith("/") and "\\" not in name
    assert all(part not in {"", ".", ".."} for part in name.split("/"))
    assert entry_name(*name.split("/")) == name  # already safe: unchanged


def test_every_entry_the_zip_writes_is_made_safe(tmp_path: Path) -> None:
    """GIVEN entries built carelessly (a caller that forgot entry_name) THEN the archive
    still holds no entry that climbs out, starts at the root or uses a backslash."""
    storage = make_storage(Settings(_env_file=None, data_dir=tmp_path))
    storage.put_bytes("jobs/x/a.flac", b"audio")
    careless = ["../../a.flac", "/etc/a.flac", "..\\..\\a.flac", "song/./../a.flac"]
    entries = [ZipEntry(name, "jobs/x/a.flac", 5) for name in careless]

    data = b"".join(zip_chunks(storage, entries, datetime(2026, 1, 1, tzinfo=UTC)))

    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == ["_/_/a.flac", "etc/a.flac", "_.._a.flac", f"song/{EMPTY_PART}/_/a.flac"]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("..", None),
        (" . ", None),
        ("", None),
        (None, None),
        ("\x00\x1b", None),
        ("AC/DC - Back in Black", "AC-DC - Back in Black"),
        ("../../etc/passwd", "-..-etc-passwd"),
        ("..\\boot.ini", "-boot.ini"),
        ("Song\nwith\tbreaks\x07", "Song with breaks"),
        ("Nice \u202eevil", "Nice evil"),
    ],
)
def test_page_titles_are_cleaned_like_file_names(title: str | None, expected: str | None) -> None:
    assert title_name(title) == expected


def test_a_long_title_is_cut_to_the_file_name_limit() -> None:
    cleaned = title_name("x" * 1000)

    assert cleaned is not None and len(cleaned) == MAX_NAME_CHARS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("C:\\Users\\me\\song.mp3", "song.mp3"),
        ("../../song.mp3", "song.mp3"),
        ("..", FALLBACK_NAME),
        (None, FALLBACK_NAME),
        ("my\x00 song\u202e.mp3", "my song.mp3"),
    ],
)
def test_uploaded_file_names_keep_their_last_part_only(raw: str | None, expected: str) -> None:
    assert display_name(raw) == expected


@pytest.mark.parametrize(
    ("source_name", "source_title", "expected"),
    [
        ("My Song.wav", None, "My Song"),
        ("Café Déjà vu.flac", None, "Café Déjà vu"),
        ("東京.wav", None, "東京"),
        ('Say "Hi".mp3', None, "Say 'Hi'"),
        # A URL job: its page title, dots and all, or the URL's last part.
        ("Mr. Brightside", "Mr. Brightside", "Mr. Brightside"),
        ("example.com/song.mp3", None, "song"),
        ("AC/DC - Back in Black", "AC/DC - Back in Black", "AC-DC - Back in Black"),
        ("x.wav", "What? <Live> | A*B: C", "What_ _Live_ _ A_B_ C"),
        ("a\\b\\..\\evil.wav", None, "evil"),  # an old row holding a Windows path
        ("song\x00\x1b[31m\u202e.wav", None, "song[31m"),
        ("  x  \t y .wav", None, "x y"),
        ("CON.wav", None, "CON_"),  # a Windows device name cannot be a folder
        ("....wav", None, None),
        ("\x00.wav", None, None),
    ],
)
def test_a_songs_title_is_safe_as_a_file_name(
    source_name: str, source_title: str | None, expected: str | None
) -> None:
    title = song_title(Job(source_name=source_name, source_title=source_title))

    assert title == expected
    if title is not None:
        assert entry_name(title) == title  # one path part, nothing an unzip tool changes


@pytest.mark.parametrize("title", ["ü" * 300, "a" + "ü" * 300, "x" * 1000, "東京" * 100])
def test_a_long_title_is_cut_to_fit_a_file_name_without_splitting_a_character(
    title: str,
) -> None:
    cut = song_title(Job(source_name="x.wav", source_title=title))

    assert cut is not None and title.startswith(cut)
    assert MAX_TITLE_BYTES - 3 < len(cut.encode()) <= MAX_TITLE_BYTES
    # With the longest stem name and suffix, still inside the common 255-byte limit.
    assert len(stem_filename(cut, "s" * 64, "wav24").encode()) <= 255


def test_names_built_from_the_title() -> None:
    assert stem_filename("My Song", "vocals", "flac") == "My Song - vocals.flac"
    assert stem_filename("My Song", "drums", "wav24") == "My Song - drums.24bit.wav"
    assert stem_filename(None, "vocals", "flac") == "vocals.flac"
    assert zip_filename("My Song") == "My Song - stems.zip"
    assert zip_filename(None) == "stems.zip"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("My Song - vocals.flac", 'attachment; filename="My Song - vocals.flac"'),
        (
            "Café - vocals.flac",
            'attachment; filename="Cafe - vocals.flac"; '
            "filename*=UTF-8''Caf%C3%A9%20-%20vocals.flac",
        ),
        (
            "東京 - vocals.flac",  # nothing ASCII in the title: the fallback is the stem's
            'attachment; filename="vocals.flac"; '
            "filename*=UTF-8''%E6%9D%B1%E4%BA%AC%20-%20vocals.flac",
        ),
        ("a\\b.flac", "attachment; filename=\"a_b.flac\"; filename*=UTF-8''a%5Cb.flac"),
    ],
)
def test_content_disposition_has_an_ascii_fallback_and_the_utf8_name(
    filename: str, expected: str
) -> None:
    assert content_disposition(filename) == expected
