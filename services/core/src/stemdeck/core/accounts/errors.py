"""The one error of account operations: its message says what to do instead."""

from __future__ import annotations


class AccountError(Exception):
    pass
