"""The `stemdeck` command as users run it: real processes, real exit codes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
import soundfile as sf

from stemdeck.core.settings import Settings
from tests.integration.stack import free_port, settings_env

SONG = "Music_Delta__80s_Rock"


def stemdeck(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stemdeck.core.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    env.update(values)
    return env


def test_separate_writes_every_stem_with_no_services(shared_audio: Path, tmp_path: Path) -> None:
    out = tmp_path / "stems"
    result = stemdeck(
        "separate",
        str(shared_audio / SONG / "mixture.wav"),
        "--strategy",
        "four-stems-dsp",
        "--format",
        "flac",
        "--format",
        "wav24",
        "--out",
        str(out),
        env=clean_env(STEMDECK_DATA_DIR=str(tmp_path / "data")),
    )
    assert result.returncode == 0, result.stderr
    frames = sf.info(shared_audio / SONG / "mixture.wav").frames
    for stem in ("vocals", "drums", "bass", "other"):
        assert sf.info(out / f"{stem}.flac").frames == frames
        assert sf.info(out / f"{stem}.24bit.wav").subtype == "PCM_24"
        assert f"{stem} " in result.stdout and "LUFS" in result.stdout
    assert re.search(r"^song: [\d.]+ BPM, [A-G]#? (major|minor) \(confidence ", result.stdout, re.M)


def test_separate_refuses_bad_input_with_a_message(tmp_path: Path, shared_audio: Path) -> None:
    text = tmp_path / "notes.mp3"
    text.write_text("these are not sounds")
    result = stemdeck("separate", str(text), "--out", str(tmp_path / "o"), env=clean_env())
    assert result.returncode == 1
    assert "not audio Stemdeck can read" in result.stderr

    song = str(shared_audio / SONG / "mixture.wav")
    result = stemdeck("separate", song, "--strategy", "nope", env=clean_env())
    assert result.returncode == 2
    assert "unknown strategy 'nope'" in result.stderr and "four-stems-dsp" in result.stderr
    result = stemdeck("separate", song, "--format", "aiff", env=clean_env())
    assert result.returncode == 2 and "unknown format(s) ['aiff']" in result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"STEMDECK_PORT": "eighty"}, "STEMDECK_PORT"),
        ({}, "STEMDECK_REDIS_URL is not set"),
        (
            {"STEMDECK_REDIS_URL": "redis://127.0.0.1:1/0", "STEMDECK_DEFAULT_STRATEGY": "nope"},
            "nope",
        ),
    ],
)
def test_api_refuses_to_start_on_bad_settings(env: dict[str, str], expected: str) -> None:
    result = stemdeck("api", env=clean_env(**env), timeout=60)
    assert result.returncode == 2
    assert expected in result.stderr


def test_a_bad_strategies_file_stops_the_worker_naming_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "strategies.yaml"
    broken.write_text(
        "strategies:\n  s:\n    tree: {model: builtin:hpss, outputs: {harmonic: a}}\n"
    )
    result = stemdeck(
        "worker",
        "--burst",
        env=clean_env(
            STEMDECK_REDIS_URL="redis://127.0.0.1:6379/15", STEMDECK_STRATEGIES_FILE=str(broken)
        ),
    )
    assert result.returncode == 2
    assert "['percussive']" in result.stderr and "not mapped" in result.stderr


def test_up_runs_the_all_in_one_stack_and_stops_cleanly(shared_audio: Path, tmp_path: Path) -> None:
    """GIVEN no Redis URL and no database URL, WHEN `stemdeck up` runs, THEN an embedded
    Redis, SQLite, the API, a worker and the reconciler run, and complete a job; Ctrl-C stops
    every process."""
    port = free_port()
    data = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "stemdeck.core.cli", "up"],
        env=clean_env(STEMDECK_DATA_DIR=str(data), STEMDECK_PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "stemdeck up did not become ready in 60 s"
            time.sleep(0.2)
        descendants = psutil.Process(process.pid).children(recursive=True)
        assert any("redis-server" in p.name() for p in descendants)
        commands = [" ".join(p.cmdline()) for p in descendants]
        for name in ("api", "worker", "reconciler"):
            assert any(c.endswith(f"stemdeck.core.cli {name}") for c in commands), commands

        with (shared_audio / SONG / "mixture.wav").open("rb") as song:
            job = httpx.post(
                f"{base}/api/jobs", files={"file": ("song.wav", song)}, timeout=60
            ).json()
        while job["status"] not in {"completed", "failed"}:
            time.sleep(0.2)
            job = httpx.get(f"{base}/api/jobs/{job['id']}", timeout=10).json()
        assert job["status"] == "completed", job["error"]
        assert (data / "stemdeck.db").is_file()
        assert (data / "storage" / "jobs" / job["id"] / "stems" / "vocals.flac").is_file()

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        for child in descendants:
            assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, child
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/health", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()


def test_healthcheck_fails_saying_why_when_nothing_answers(redis_url: str) -> None:
    api = stemdeck(
        "healthcheck",
        "api",
        env=clean_env(
            STEMDECK_PORT=str(free_port()),
            STEMDECK_HOST="0.0.0.0",
            STEMDECK_ALLOW_ANONYMOUS_NETWORK="true",
        ),
    )
    worker = stemdeck("healthcheck", "worker", env=clean_env(STEMDECK_REDIS_URL=redis_url))
    down = stemdeck(
        "healthcheck",
        "worker",
        env=clean_env(STEMDECK_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"),
    )
    unknown = stemdeck("healthcheck", "db", env=clean_env())

    assert api.returncode == 1 and "the API does not answer on 127.0.0.1:" in api.stderr
    assert worker.returncode == 1 and "no worker of host" in worker.stderr
    assert down.returncode == 1 and "Redis cannot be reached" in down.stderr
    assert unknown.returncode == 2 and "choose api, worker or reconciler" in unknown.stderr


def test_reconciler_healthcheck_passes_once_it_has_run_a_pass(settings: Settings) -> None:
    """GIVEN no reconciler THEN its healthcheck fails saying so; WHEN `stemdeck reconciler`
    has finished a pass THEN the healthcheck passes on the same host."""
    env = settings_env(settings, STEMDECK_RECONCILE_INTERVAL_S="1")
    before = stemdeck("healthcheck", "reconciler", env=env)
    assert before.returncode == 1 and "has not finished a pass lately" in before.stderr

    process = subprocess.Popen(
        [sys.executable, "-m", "stemdeck.core.cli", "reconciler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            after = stemdeck("healthcheck", "reconciler", env=env)
            if after.returncode == 0 or process.poll() is not None:
                break
            time.sleep(0.5)
        assert process.poll() is None, "the reconciler exited"
        assert after.returncode == 0, after.stderr
    finally:
        process.terminate()
        process.wait(timeout=30)
