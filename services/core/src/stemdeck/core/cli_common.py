"""What every `stemdeck` command shares: failing with a message, and the settings.

Its own module so that command modules core registers (accounts/cli.py) can import
it while core/cli.py imports them; plugins keep importing both from core/cli.py.
"""

from __future__ import annotations

from typing import NoReturn

import typer

from stemdeck.core.settings import Settings, SettingsError, load_settings


def die(message: str, code: int = 2) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def settings_or_die() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        die(str(error))
