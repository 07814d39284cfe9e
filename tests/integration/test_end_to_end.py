"""The whole path through real processes: upload → queue → worker → stems → download.

GIVEN the API and a worker running as `stemdeck api` / `stemdeck worker` on real
Postgres and Redis, WHEN each test song is uploaded with a DSP strategy, THEN the
job completes and every stem downloads with the promised properties.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from stemdeck.core.settings import Settings
from tests.conftest import SONGS
from tests.integration.stack import Stack, running_stack

FORMATS = ["wav24", "flac", "mp3"]
# 24-bit stems summed back must match the mixture to better than this (dB SNR).
SUM_SNR_FLOOR_DB = 60.0


@pytest.fixture(scope="module")
def finished_jobs(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, shared_audio: Path
) -> dict[str, Any]:
    from redis import Redis
    from sqlalchemy import create_engine, text

    from tests.conftest import TEST_REDIS_URL

    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE stems, jobs CASCADE"))
    engine.dispose()
    Redis.from_url(TEST_REDIS_URL).flushdb()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("e2e"),
        database_url=database_url,
        redis_url=TEST_REDIS_URL,
    )
    results: dict[str, Any] = {}
    with running_stack(settings) as stack, stack.client() as client:
        for song in SONGS:
            mixture = shared_audio / song / "mixture.wav"
            with mixture.open("rb") as handle:
                response = client.post(
                    "/api/jobs",
                    files={"file": (f"{song}.wav", handle, "audio/wav")},
                    data={"strategy": "four-stems-dsp", "formats": ",".join(FORMATS)},
                )
            assert response.status_code == 202, response.text
            assert response.headers["location"].endswith(response.json()["id"])
            results[song] = {"submitted": response.json()}
        for song in SONGS:
            job = stack.wait_for(results[song]["submitted"]["id"])
            results[song]["job"] = job
            results[song]["files"] = download_all(stack, job)
            results[song]["zip"] = client.get(job["zip_url"]).content
            results[song]["range_checks"] = range_checks(stack, job)
    return results


def download_all(stack: Stack, job: dict[str, Any]) -> dict[tuple[str, str], bytes]:
    files = {}
    with stack.client() as client:
        for stem in job["stems"]:
            for format_id, url in stem["urls"].items():
                response = client.get(url)
                assert response.status_code == 200, (url, response.text)
                files[(stem["name"], format_id)] = response.content
    return files


def range_checks(stack: Stack, job: dict[str, Any]) -> list[tuple[int, bytes, bytes, str]]:
    url = job["stems"][0]["urls"]["flac"]
    checks = []
    with stack.client() as client:
        whole = client.get(url).content
        for header, expected in (
            ("bytes=100-199", whole[100:200]),
            ("bytes=-50", whole[-50:]),
            (f"bytes={len(whole) - 10}-", whole[-10:]),
        ):
            response = client.get(url, headers={"Range": header})
            checks.append((response.status_code, response.content, expected, header))
        unsatisfiable = client.get(url, headers={"Range": f"bytes={len(whole) + 5}-"})
        checks.append(
            (unsatisfiable.status_code, b"", b"", unsatisfiable.headers.get("content-range", ""))
        )
    return checks


def decode(data: bytes) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
    return audio, rate


@pytest.mark.slow
@pytest.mark.parametrize("song", SONGS)
def test_job_completes_with_every_stem(finished_jobs: dict[str, Any], song: str) -> None:
    job = finished_jobs[song]["job"]
    assert job["status"] == "completed", job.get("error")
    assert job["progress"] == 1.0
    assert [stem["name"] for stem in job["stems"]] == ["vocals", "drums", "bass", "other"]
    for stem in job["stems"]:
        assert sorted(stem["urls"]) == sorted(FORMATS)


@pytest.mark.slow
@pytest.mark.parametrize("song", SONGS)
def test_stems_sum_back_to_the_mixture(
    finished_jobs: dict[str, Any], song: str, shared_audio: Path
) -> None:
    mixture, _ = sf.read(shared_audio / song / "mixture.wav", dtype="float64", always_2d=True)
    files = finished_jobs[song]["files"]
    total = sum(decode(files[(stem, "wav24")])[0] for stem in ("vocals", "drums", "bass", "other"))
    # Loud input is turned down by one gain for every stem; find it and check the job said so.
    gain = float(np.sum(total * mixture) / np.sum(mixture * mixture))
    snr = 10 * np.log10(np.sum((gain * mixture) ** 2) / np.sum((total - gain * mixture) ** 2))
    assert snr > SUM_SNR_FLOOR_DB
    job = finished_jobs[song]["job"]
    assert 20 * np.log10(gain) == pytest.approx(job["gain_db"], abs=0.05)
    if np.max(np.abs(mixture)) > 1.0:
        assert job["gain_db"] < 0
        assert any(f"turned down by {-job['gain_db']:.1f} dB" in note for note in job["notes"])
        for stem in ("vocals", "drums", "bass", "other"):
            assert np.max(np.abs(decode(files[(stem, "wav24")])[0])) <= 1.0, stem
    else:
        assert gain == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("song", SONGS)
def test_every_stem_lasts_as_long_as_the_input(
    finished_jobs: dict[str, Any], song: str, shared_audio: Path
) -> None:
    frames = sf.info(shared_audio / song / "mixture.wav").frames
    for (stem, format_id), data in finished_jobs[song]["files"].items():
        audio, rate = decode(data)
        if format_id == "mp3":
            # MP3 frames pad the ends; its length is within one codec frame (1152 samples).
            assert abs(len(audio) - frames) <= 1152 * 2, (stem, format_id)
        else:
            assert rate == 44_100
            assert abs(len(audio) - frames) <= 1, (stem, format_id)


@pytest.mark.slow
@pytest.mark.parametrize("song", SONGS)
def test_reported_loudness_matches_the_downloaded_audio(
    finished_jobs: dict[str, Any], song: str
) -> None:
    meter = pyloudnorm.Meter(44_100)
    for stem in finished_jobs[song]["job"]["stems"]:
        audio, _ = decode(finished_jobs[song]["files"][(stem["name"], "wav24")])
        measured = meter.integrated_loudness(audio)
        assert stem["lufs"] == pytest.approx(measured, abs=0.1), stem["name"]
        peak = 20 * np.log10(np.max(np.abs(audio)))
        assert stem["peak_dbfs"] == pytest.approx(peak, abs=0.1), stem["name"]


@pytest.mark.slow
def test_range_requests_return_exactly_the_bytes_asked_for(finished_jobs: dict[str, Any]) -> None:
    *partial, unsatisfiable = finished_jobs[SONGS[0]]["range_checks"]
    for status, body, expected, header in partial:
        assert status == 206, header
        assert body == expected, header
    status, _, _, content_range = unsatisfiable
    assert status == 416
    assert content_range.startswith("bytes */")


@pytest.mark.slow
@pytest.mark.parametrize("song", SONGS)
def test_zip_holds_every_stem(finished_jobs: dict[str, Any], song: str) -> None:
    archive = zipfile.ZipFile(io.BytesIO(finished_jobs[song]["zip"]))
    assert archive.testzip() is None
    names = set(archive.namelist())
    files = finished_jobs[song]["files"]
    assert len(names) == len(files)
    for (stem, format_id), data in files.items():
        # Entries are "<song>/<song> - vocals.flac", named after the song.
        matching = [n for n in names if n.split("/")[-1].split(" - ")[-1].startswith(f"{stem}.")]
        assert any(archive.read(n) == data for n in matching), (stem, format_id)
