"""What a worker readies without the network when it starts: weights that an installed
package carries (``bundled_in``), converted into the models directory.

So the first job does not pay for the conversion, and an API that looks at the models
directory itself (no worker has reported yet) finds the files. Where the models
directory is read-only (Compose mounts it so for workers) nothing is written: the
`models` one-shot, which runs the same preparation, has done it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from stemdeck.core.catalog import CATALOG
from stemdeck.core.readiness import absent_weights
from stemdeck.core.weights import missing_files
from stemdeck.worker.models.base import ModelError

log = logging.getLogger(__name__)


def _spleeter(models_dir: Path) -> Path:
    # Imported here: the conversion needs numpy and safetensors, a DSP-only start does not.
    from stemdeck.worker.models.spleeter_weights import ensure_weights

    return ensure_weights(models_dir)


# Model id -> what converts its bundled weights into the models directory.
CONVERTERS: dict[str, Callable[[Path], Path]] = {"spleeter:2stems": _spleeter}


def prepare_bundled(models_dir: Path) -> list[str]:
    """Convert every bundled model's absent weights where this process can; the model ids
    converted. A conversion that fails only logs: that model then reports itself missing."""
    prepared = []
    for model_id, convert in CONVERTERS.items():
        spec = CATALOG[model_id]
        # Present already; or its package is not installed, or the folder is read-only.
        if not missing_files(spec, models_dir) or absent_weights(spec, models_dir):
            continue
        try:
            convert(models_dir)
        except ModelError as error:
            log.warning("could not prepare %s at start: %s", model_id, error)
            continue
        log.info("prepared %s: converted its bundled weights into the models directory", model_id)
        prepared.append(model_id)
    return prepared
