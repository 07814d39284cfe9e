"""What only the local store does: refuse keys outside its root, report a root it cannot write.

The behaviour both stores share is tested in tests/integration/test_storage.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stemdeck.core.storage import LocalStorage, StorageError


def test_keys_outside_the_root_are_refused(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "store")
    for bad in ("../escape", "jobs/../../escape", ".staging/x", "/etc/passwd"):
        with pytest.raises(StorageError):
            store.writer(bad)


def test_check_reports_an_unwritable_root(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="not writable"):
        LocalStorage(blocker).check()
    LocalStorage(tmp_path / "fine").check()
