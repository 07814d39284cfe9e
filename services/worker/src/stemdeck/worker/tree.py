"""Running a strategy tree: each node's outputs go on to a stem, to another node, or away.

Each node's model run is timed for the worker's metrics (seconds and real-time factor
by model and device); its model's load, if this run needed one, is timed apart.

A model whose weights are fetched on first use reports the download on the stage, as
``separating: downloading demucs:htdemucs weights 40%``, the bar held where it stands.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from stemdeck.core.strategies import DISCARD, Node, Strategy
from stemdeck.core.weights import DownloadProgress, OnDownload
from stemdeck.worker.models.base import SAMPLE_RATE, Audio, ModelError
from stemdeck.worker.models.cache import ModelCache
from stemdeck.worker.prometheus import record_model_run

TreeProgress = Callable[[str, float], None]
"""(stage label, fraction 0-1 of the whole tree); the fraction only moves forward."""


class _Meter:
    """Maps one node's own 0-1 progress onto the tree's, weighted by model cost."""

    def __init__(self, strategy: Strategy, report: TreeProgress) -> None:
        nodes = strategy.tree.walk()
        self._total_cost = sum(node.model.cost for node in nodes)
        self._count = len(nodes)
        self._report = report
        self._done = 0.0
        self._last = 0.0

    def _weight(self, node: Node) -> float:
        if self._total_cost > 0:
            return node.model.cost / self._total_cost
        return 1 / self._count  # a tree of free models still moves the bar, node by node

    def node(self, node: Node) -> Callable[[float], None]:
        label = f"separating: {node.model.id}"
        start, weight = self._done, self._weight(node)
        self._done += weight

        def report(fraction: float) -> None:
            value = min(1.0, start + weight * min(max(fraction, 0.0), 1.0))
            if value >= self._last:
                self._last = value
                self._report(label, value)

        return report

    def downloading(self, node: Node) -> OnDownload:
        """Reports a weight download of ``node``'s model on the stage, the bar held still."""

        def report(download: DownloadProgress) -> None:
            fraction = download.fraction
            share = "" if fraction is None else f" {int(fraction * 100)}%"
            self._report(f"separating: downloading {node.model.id} weights{share}", self._last)

        return report


def run_tree(
    strategy: Strategy, audio: Audio, models: ModelCache, progress: TreeProgress
) -> dict[str, Audio]:
    """Every final stem of ``strategy`` for ``audio``, in ``strategy.stems`` order."""
    meter = _Meter(strategy, progress)
    stems: dict[str, Audio] = {}
    pending: list[tuple[Node, Audio]] = [(strategy.tree, audio)]
    while pending:
        node, source = pending.pop()
        report = meter.node(node)
        report(0.0)
        outputs = _run_node(node, source, models, report, meter.downloading(node))
        report(1.0)
        children: list[tuple[Node, Audio]] = []
        for slot, target in node.outputs.items():
            if isinstance(target, Node):
                children.append((target, outputs[slot]))
            elif target != DISCARD:
                stems[target] = outputs[slot]
        del outputs  # frees discarded slots before the next node runs
        pending.extend(reversed(children))  # depth first, in slot order
    return {name: stems[name] for name in strategy.stems}


def _run_node(
    node: Node,
    audio: Audio,
    models: ModelCache,
    report: Callable[[float], None],
    downloading: OnDownload,
) -> dict[str, Audio]:
    model = models.get(node.model.id, downloading)
    report(0.0)  # back to the model's own label, should a download have shown instead
    started = time.perf_counter()
    outputs = model.separate(audio, node.params, report)
    audio_s = audio.shape[-1] / SAMPLE_RATE
    record_model_run(node.model.id, models.device, audio_s, time.perf_counter() - started)
    missing = [slot for slot in node.model.slots if slot not in outputs]
    wrong = [
        slot
        for slot, part in outputs.items()
        if part.shape != audio.shape or part.dtype != audio.dtype
    ]
    if missing or wrong:
        raise ModelError(
            f"{node.model.id} returned a broken result (missing {missing}, wrong shape {wrong}); "
            "this is a bug in the model."
        )
    return outputs
