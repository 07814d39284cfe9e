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
        ("STEMDECK_CANCELLED_RETENTION_HOURS", "0", "STEMDECK_CANCELLED_RETENTION_HOURS"),
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
        ("STEMDECK_LINK_TTL_S", "0", "STEMDECK_LINK_TTL_S"),
        ("STEMDECK_S3_PRESIGN_TTL_S", "0", "STEMDECK_S3_PRESIGN_TTL_S"),
        ("STEMDECK_LINK_TTL_S", "a week", "STEMDECK_LINK_TTL_S"),
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


def test_file_links_are_short_lived_and_the_old_s3_name_still_sets_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().link_ttl_s == 900
    monkeypatch.setenv("STEMDECK_S3_PRESIGN_TTL_S", "120")
    assert load_settings().link_ttl_s == 120
    monkeypatch.setenv("STEMDECK_LINK_TTL_S", "60")  # the new name wins
    assert load_settings().link_ttl_s == 60
    assert Settings(link_ttl_s=5).link_ttl_s == 5


def test_a_missing_redis_url_says_how_to_get_one() -> None:
    with pytest.raises(SettingsError, match="STEMDECK_REDIS_URL is not set"):
        load_settings().require_redis_url()


def test_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    # The autouse fixture runs each test in its own tmp dir, where .env is looked up.
    with open(".env", "w") as env_file:
        env_file.write("STEMDECK_PORT=9123\n")
    assert load_settings().port == 9123


def test_auth_defaults_to_none_on_loopback() -> None:
    settings = load_settings()
    assert settings.auth == "none" and settings.host == "127.0.0.1"
    assert not settings.allow_anonymous_network


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "stemdeck.example.com"])
def test_none_off_loopback_is_refused_saying_why(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("STEMDECK_HOST", host)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"STEMDECK_AUTH: `none` on STEMDECK_HOST={host}" in message
    assert "read and delete every job" in message
    assert "STEMDECK_ALLOW_ANONYMOUS_NETWORK=true" in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_none_on_loopback_starts(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("STEMDECK_HOST", host)
    assert load_settings().auth == "none"


def test_none_off_loopback_starts_when_allowed_on_purpose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEMDECK_HOST", "0.0.0.0")
    monkeypatch.setenv("STEMDECK_ALLOW_ANONYMOUS_NETWORK", "true")
    assert load_settings().host == "0.0.0.0"


def test_accounts_needs_the_first_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEMDECK_AUTH", "accounts")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert (
        "STEMDECK_ADMIN_EMAIL: STEMDECK_AUTH=accounts needs the first admin's "
        "STEMDECK_ADMIN_EMAIL and STEMDECK_ADMIN_PASSWORD"
    ) in str(caught.value)


@pytest.mark.parametrize("auth", ["none", "accounts"])
@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"STEMDECK_ADMIN_EMAIL": "admin@example.com"}, "STEMDECK_ADMIN_PASSWORD"),
        ({"STEMDECK_ADMIN_PASSWORD": "a-long-enough-secret"}, "STEMDECK_ADMIN_EMAIL"),
    ],
)
def test_the_first_admins_email_and_password_go_together(
    monkeypatch: pytest.MonkeyPatch, auth: str, given: dict[str, str], missing: str
) -> None:
    monkeypatch.setenv("STEMDECK_AUTH", auth)
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert f"{missing}: " in str(caught.value) and f"needs {missing} too" in str(caught.value)


def test_accounts_starts_anywhere_with_an_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AUTH": "accounts",
        "HOST": "0.0.0.0",
        "ADMIN_EMAIL": "  Admin@Example.COM ",
        "ADMIN_PASSWORD": "a-long-enough-secret",
    }.items():
        monkeypatch.setenv(f"STEMDECK_{name}", value)
    settings = load_settings()
    assert settings.admin_email == "admin@example.com"
    assert "a-long-enough-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("STEMDECK_AUTH", "oidc", "STEMDECK_AUTH"),
        ("STEMDECK_ADMIN_EMAIL", "admin", "must be an email address"),
        ("STEMDECK_ADMIN_EMAIL", "admin@localhost", "must be an email address"),
        ("STEMDECK_ADMIN_PASSWORD", "short", "at least 12 characters"),
        ("STEMDECK_SESSION_IDLE_HOURS", "0", "STEMDECK_SESSION_IDLE_HOURS"),
        ("STEMDECK_SESSION_LIFETIME_DAYS", "-1", "STEMDECK_SESSION_LIFETIME_DAYS"),
        ("STEMDECK_ALLOW_ANONYMOUS_NETWORK", "perhaps", "STEMDECK_ALLOW_ANONYMOUS_NETWORK"),
        ("STEMDECK_SECRET_KEY", "too-short-to-sign-anything", "at least 32 characters"),
    ],
)
def test_a_bad_account_setting_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv("STEMDECK_ADMIN_EMAIL", "admin@example.com")
    monkeypatch.setenv("STEMDECK_ADMIN_PASSWORD", "a-long-enough-secret")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "named", "source"),
    [
        ("STEMDECK_ADMIN_PASSWORD", "change-me-admin", "STEMDECK_ADMIN_PASSWORD", None),
        ("STEMDECK_S3_SECRET_KEY", "change-me-minio", "STEMDECK_S3_SECRET_KEY", "MINIO_ROOT"),
        ("STEMDECK_S3_SECRET_KEY", "change-me-minioapp", "STEMDECK_S3_SECRET_KEY", "MINIO_APP"),
        ("STEMDECK_SECRET_KEY", "change-me-signing", "STEMDECK_SECRET_KEY", None),
        (
            "STEMDECK_DATABASE_URL",
            "postgresql+psycopg://stemdeck:change-me-postgres@postgres:5432/stemdeck",
            "STEMDECK_DATABASE_URL",
            "POSTGRES_PASSWORD",
        ),
        (
            "STEMDECK_REDIS_URL",
            "redis://:change-me-redis@redis:6379/0",
            "STEMDECK_REDIS_URL",
            "REDIS_PASSWORD",
        ),
    ],
)
def test_an_example_secret_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str, source: str | None
) -> None:
    monkeypatch.setenv("STEMDECK_ADMIN_EMAIL", "admin@example.com")
    monkeypatch.setenv("STEMDECK_ADMIN_PASSWORD", "a-long-enough-secret")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"{named}: still holds the example secret" in message
    assert source is None or source in message
    assert "openssl rand" in message


def test_a_real_secret_that_merely_contains_the_example_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEMDECK_ADMIN_EMAIL", "admin@example.com")
    monkeypatch.setenv("STEMDECK_ADMIN_PASSWORD", "change-me-admin-4f1c9e2a7b")
    assert load_settings().admin_password.get_secret_value() == "change-me-admin-4f1c9e2a7b"
