"""The worker's `stemdeck` commands; stemdeck-worker registers them in the
`stemdeck.commands` entry-point group, which stemdeck.core.cli loads at start-up.

Every `stemdeck` start (container healthchecks too) loads this module, so torch and
the models are imported inside the commands that need them, never at the top.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stemdeck.core.cli import die, settings_or_die
from stemdeck.core.settings import Settings, SettingsError
from stemdeck.core.strategies import Strategy, StrategyFileError, cached_strategies

if TYPE_CHECKING:
    from stemdeck.worker.music import MusicAnalysis

app = typer.Typer()


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="Exit once the queue is empty.")] = False,
    name: Annotated[
        str | None, typer.Option(help="Worker name (default host.pid.<random>).")
    ] = None,
    queue: Annotated[
        list[str] | None,
        typer.Option(help="Only this queue (separate, ingest); repeatable. Default: both."),
    ] = None,
) -> None:
    """Run one worker: takes separations and URL downloads from Redis, keeps models loaded."""
    from stemdeck.worker.main import QUEUES, run_worker

    settings = settings_or_die()
    try:
        run_worker(settings, burst=burst, name=name, queues=tuple(queue or QUEUES))
    except (SettingsError, StrategyFileError, ValueError) as error:
        die(str(error))


def _strategies_or_die(settings: Settings) -> dict[str, Strategy]:
    try:
        return cached_strategies(settings.strategies_file)
    except StrategyFileError as error:
        die(str(error))


def _chosen(
    settings: Settings, strategy: str | None, formats: list[str] | None
) -> tuple[Strategy, list[str]]:
    """The strategy and formats `separate` was asked for, checked before any work starts."""
    from stemdeck.core.formats import FORMATS
    from stemdeck.core.readiness import default_strategy

    found = _strategies_or_die(settings)
    name = strategy or default_strategy(found, settings)
    if name not in found:
        die(f"unknown strategy {name!r}; choose one of: {', '.join(found)}")
    chosen_formats = formats or settings.default_formats
    unknown = [f for f in chosen_formats if f not in FORMATS]
    if unknown:
        die(f"unknown format(s) {unknown}; choose from: {', '.join(FORMATS)}")
    return found[name], chosen_formats


@app.command()
def separate(
    song: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    strategy: Annotated[
        str | None, typer.Option(help="Strategy name (see `stemdeck strategies`).")
    ] = None,
    format: Annotated[
        list[str] | None, typer.Option("--format", "-f", help="Output format; repeatable.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the stems.")] = Path("stems"),
) -> None:
    """Separate one file here and now, with no services (same executor as the worker)."""
    import tempfile

    from stemdeck.core.formats import download_filename
    from stemdeck.core.probe import AudioError, probe, verify_decodes
    from stemdeck.worker.executor import separate_file
    from stemdeck.worker.models.base import ModelError
    from stemdeck.worker.runtime import limit_torch_threads, model_cache

    settings = settings_or_die()
    chosen, formats = _chosen(settings, strategy, format)
    out.mkdir(parents=True, exist_ok=True)
    limit_torch_threads(settings)
    try:
        info = probe(song)
        verify_decodes(song, info)
        with (
            tempfile.TemporaryDirectory(prefix="stemdeck-") as scratch,
            typer.progressbar(length=1000, label="separating", show_pos=False) as bar,
        ):
            done = 0

            def report(stage: str, fraction: float) -> None:
                nonlocal done
                bar.label = f"{stage:<32}"
                step = int(fraction * 1000) - done
                if step > 0:
                    bar.update(step)
                    done += step

            result = separate_file(
                song, info, chosen, formats, Path(scratch), model_cache(settings), report
            )
            for stem in result.stems:
                for format_id, path in stem.files.items():
                    shutil.copyfile(path, out / download_filename(stem.name, format_id))
    except (AudioError, ModelError) as error:
        die(str(error), code=1)
    for note in result.notes:
        typer.echo(f"note: {note}")
    if result.music is not None:
        typer.echo(_described(result.music))
    for stem in result.stems:
        lufs = f"{stem.lufs:6.1f} LUFS" if stem.lufs is not None else "  silent  "
        typer.echo(f"{stem.name:<12} {lufs}  → {out / download_filename(stem.name, formats[0])}")


def _described(music: MusicAnalysis) -> str:
    tempo = f"{music.bpm:g} BPM" if music.bpm else "no steady beat"
    key = music.key
    return f"song: {tempo}, " + (
        f"{key.name} (confidence {key.confidence:.2f})" if key else "no key heard"
    )


@app.command()
def models(
    strategy: Annotated[
        list[str] | None, typer.Option(help="Only these strategies' models; repeatable.")
    ] = None,
    allow_missing: Annotated[
        bool,
        typer.Option(
            help="Exit 0 even when some weights cannot be fetched (they are reported, and "
            "their strategies stay 'missing'): for a one-shot that workers wait for."
        ),
    ] = False,
) -> None:
    """Fetch (or convert), check and test-load the weights strategies need, into the models dir.

    The one process that writes the models dir: workers may mount it read-only.
    """
    from stemdeck.core.catalog import CATALOG
    from stemdeck.core.logs import configure_logging
    from stemdeck.core.weights import discard_mismatched
    from stemdeck.worker.models.base import ModelError
    from stemdeck.worker.models.prepare import prepare_bundled
    from stemdeck.worker.runtime import model_cache

    settings = settings_or_die()
    # Downloads log their progress every few seconds: a first run fetches gigabytes.
    configure_logging(settings)
    found = _strategies_or_die(settings)
    unknown = [name for name in strategy or [] if name not in found]
    if unknown:
        die(f"unknown strategy {unknown}; choose from: {', '.join(found)}")
    wanted = [found[name] for name in strategy] if strategy else list(found.values())
    model_ids = list(dict.fromkeys(m for s in wanted for m in s.models))
    prepare_bundled(settings.effective_models_dir)
    cache = model_cache(settings.model_copy(update={"model_downloads": True}))
    failed = 0
    for model_id in model_ids:
        for path in discard_mismatched(CATALOG[model_id], settings.effective_models_dir):
            typer.echo(f"replacing {path}: it did not match its pinned SHA-256")
        try:
            cache.get(model_id)
            typer.echo(f"ready    {model_id}")
        except ModelError as error:
            failed += 1
            typer.secho(f"missing  {model_id}: {error}", fg=typer.colors.RED, err=True)
        cache.release()
    typer.echo(f"weights in {settings.effective_models_dir}")
    if failed and not allow_missing:
        raise typer.Exit(1)
