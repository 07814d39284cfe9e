from __future__ import annotations

from pathlib import Path

import pytest

from stemdeck.core.storage import LocalStorage, NotFound, StorageError, keys


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def test_a_write_is_invisible_until_committed(store: LocalStorage) -> None:
    key = keys.source("j1", "wav")
    writer = store.writer(key)
    writer.write(b"abc")
    assert not store.exists(key)
    writer.write(b"def")
    writer.commit()
    assert store.read_bytes(key) == b"abcdef"
    assert store.size(key) == 6


def test_an_aborted_write_leaves_nothing(store: LocalStorage) -> None:
    writer = store.writer(keys.source("j1", "wav"))
    writer.write(b"partial")
    writer.abort()
    assert not store.exists(keys.source("j1", "wav"))
    assert not any(p.is_file() for p in store.root.rglob("*"))


def test_ranges_return_exactly_the_bytes_asked_for(store: LocalStorage) -> None:
    data = bytes(range(256)) * 20_000  # spans several read chunks
    store.put_bytes("jobs/j/x.bin", data)
    assert b"".join(store.iter_range("jobs/j/x.bin", 10, 5)) == data[10:15]
    assert b"".join(store.iter_range("jobs/j/x.bin", len(data) - 3)) == data[-3:]
    assert (
        b"".join(store.iter_range("jobs/j/x.bin", 1_000_000, 3_000_000))
        == data[1_000_000:4_000_000]
    )


def test_missing_keys_and_keys_outside_the_root(store: LocalStorage) -> None:
    with pytest.raises(NotFound):
        store.size("jobs/nope")
    with pytest.raises(NotFound):
        store.iter_range("jobs/nope")
    for bad in ("../escape", "jobs/../../escape", ".staging/x", "/etc/passwd"):
        with pytest.raises(StorageError):
            store.writer(bad)


def test_delete_prefix_removes_a_job_and_nothing_else(store: LocalStorage) -> None:
    store.put_bytes(keys.stem("a", "vocals", "flac"), b"1")
    store.put_bytes(keys.metadata("a"), b"{}")
    store.put_bytes(keys.stem("b", "vocals", "flac"), b"2")
    store.delete_prefix(keys.job_prefix("a"))
    assert not store.exists(keys.metadata("a"))
    assert store.exists(keys.stem("b", "vocals", "flac"))


def test_check_reports_an_unwritable_root(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="not writable"):
        LocalStorage(blocker).check()
    LocalStorage(tmp_path / "fine").check()
