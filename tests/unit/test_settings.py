from __future__ import annotations

import pytest

from stemdeck.core.settings import Settings, SettingsError, load_settings


def test_defaults_give_an_all_in_one_setup(tmp_path: object) -> None:
    settings = load_settings()
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("data/stemdeck.db")
    assert settings.port == 8000
    assert settings.max_upload_bytes == 500 * 1024 * 1024


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("STEMDECK_PORT", "eighty", "STEMDECK_PORT"),
        ("STEMDECK_PORT", "70000", "STEMDECK_PORT"),
        ("STEMDECK_MAX_UPLOAD_MB", "0", "STEMDECK_MAX_UPLOAD_MB"),
        ("STEMDECK_DATABASE_URL", "mysql://x", "STEMDECK_DATABASE_URL"),
        ("STEMDECK_REDIS_URL", "localhost:6379", "STEMDECK_REDIS_URL"),
        ("STEMDECK_DEVICE", "tpu", "STEMDECK_DEVICE"),
        ("STEMDECK_STORAGE", "ftp", "STEMDECK_STORAGE"),
        ("STEMDECK_DEFAULT_FORMATS", "flac,aiff", "STEMDECK_DEFAULT_FORMATS"),
        ("STEMDECK_LOG_LEVEL", "chatty", "STEMDECK_LOG_LEVEL"),
        ("STEMDECK_S3_ENDPOINT", "minio:9000", "STEMDECK_S3_ENDPOINT"),
        ("STEMDECK_S3_ENDPOINT", "http://minio:9000/stemdeck", "STEMDECK_S3_ENDPOINT"),
        ("STEMDECK_S3_PUBLIC_URL", "ftp://files", "STEMDECK_S3_PUBLIC_URL"),
        ("STEMDECK_S3_BUCKET", "My_Bucket", "STEMDECK_S3_BUCKET"),
        ("STEMDECK_S3_PRESIGN_TTL_S", "5", "STEMDECK_S3_PRESIGN_TTL_S"),
        ("STEMDECK_MAX_ATTEMPTS", "0", "STEMDECK_MAX_ATTEMPTS"),
        ("STEMDECK_RETENTION_DAYS", "-1", "STEMDECK_RETENTION_DAYS"),
        ("STEMDECK_INGEST_TIMEOUT_S", "0", "STEMDECK_INGEST_TIMEOUT_S"),
        ("STEMDECK_INGEST_ALLOW_LOOPBACK", "maybe", "STEMDECK_INGEST_ALLOW_LOOPBACK"),
        ("STEMDECK_HEARTBEAT_TIMEOUT_S", "8", "STEMDECK_HEARTBEAT_TIMEOUT_S"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert expected in str(caught.value)
    assert "fix these settings" in str(caught.value)


def test_s3_storage_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEMDECK_STORAGE", "s3")
    monkeypatch.setenv("STEMDECK_S3_ACCESS_KEY", "key")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "STEMDECK_S3_ENDPOINT" in message and "STEMDECK_S3_SECRET_KEY" in message
    assert "STEMDECK_S3_ACCESS_KEY," not in message


def test_s3_settings_keep_the_secret_out_of_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "STORAGE": "s3",
        "S3_ENDPOINT": "https://account.r2.cloudflarestorage.com/",
        "S3_ACCESS_KEY": "key",
        "S3_SECRET_KEY": "very-secret",
        "S3_REGION": "auto",
    }.items():
        monkeypatch.setenv(f"STEMDECK_{name}", value)
    settings = load_settings()
    assert settings.s3_endpoint == "https://account.r2.cloudflarestorage.com"
    assert "very-secret" not in repr(settings)


def test_plain_postgres_urls_use_psycopg_3() -> None:
    settings = Settings(database_url="postgresql://u@h/db")
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_formats_come_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEMDECK_DEFAULT_FORMATS", "flac, mp3")
    assert load_settings().default_formats == ["flac", "mp3"]


def test_a_missing_redis_url_says_how_to_get_one() -> None:
    with pytest.raises(SettingsError, match="STEMDECK_REDIS_URL is not set"):
        load_settings().require_redis_url()


def test_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    # The autouse fixture runs each test in its own tmp dir, where .env is looked up.
    with open(".env", "w") as env_file:
        env_file.write("STEMDECK_PORT=9123\n")
    assert load_settings().port == 9123
