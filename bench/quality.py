"""Separation quality (`make bench`): global SDR per stem and song, strategies side by side.

Each song in ../shared/audio goes through the real API, queue and worker with
every strategy below; each stem is compared with the song's ground truth:
SDR = 10·log10(Σs² / Σ(s−ŝ)²), after undoing the gain the job reports.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from redis import Redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import record, table  # noqa: E402
from stemdeck.core import migrate  # noqa: E402
from stemdeck.core.settings import Settings  # noqa: E402
from stemdeck.worker.metrics import global_sdr  # noqa: E402
from tests.conftest import SHARED_AUDIO, SONGS, recreate_postgres_database  # noqa: E402
from tests.integration.stack import running_stack  # noqa: E402

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/stemdeck_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
STRATEGIES = ("vocals", "four-stems-lite", "four-stems-dsp")


def reference(song: str, stem: str) -> np.ndarray:
    folder = SHARED_AUDIO / song
    if stem in {"instrumental", "accompaniment"}:
        mixture, _ = sf.read(folder / "mixture.wav", dtype="float64")
        vocals, _ = sf.read(folder / "vocals.wav", dtype="float64")
        return np.asarray(mixture - vocals)
    audio, _ = sf.read(folder / f"{stem}.wav", dtype="float64")
    return np.asarray(audio)


def main() -> None:
    recreate_postgres_database(DATABASE_URL)
    migrate.upgrade(DATABASE_URL)
    Redis.from_url(REDIS_URL).flushdb()
    scores: dict[tuple[str, str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="stemdeck-quality-") as scratch:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=Path(scratch), database_url=DATABASE_URL, redis_url=REDIS_URL
        )
        with running_stack(settings) as stack, stack.client() as client:
            for song in SONGS:
                for strategy in STRATEGIES:
                    with (SHARED_AUDIO / song / "mixture.wav").open("rb") as handle:
                        response = client.post(
                            "/api/jobs",
                            files={"file": ("mixture.wav", handle)},
                            data={"strategy": strategy, "formats": "wav24"},
                        )
                    response.raise_for_status()
                    job = stack.wait_for(response.json()["id"])
                    assert job["status"] == "completed", job
                    undo = 10 ** (-job["gain_db"] / 20)
                    for stem in job["stems"]:
                        data = client.get(stem["urls"]["wav24"]).content
                        estimate, _ = sf.read(io.BytesIO(data), dtype="float64")
                        scores[(song, strategy, stem["name"])] = global_sdr(
                            reference(song, stem["name"]), estimate * undo
                        )
    rows = [(song, strategy, stem, f"{sdr:.2f}") for (song, strategy, stem), sdr in scores.items()]
    for strategy in STRATEGIES:
        for stem in sorted({s for (_, st, s) in scores if st == strategy}):
            values = [v for (_, st, s), v in scores.items() if st == strategy and s == stem]
            rows.append(("mean", strategy, stem, f"{np.mean(values):.2f}"))
    record("Separation quality (global SDR, dB)", table(rows, ("song", "strategy", "stem", "SDR")))


if __name__ == "__main__":
    main()
