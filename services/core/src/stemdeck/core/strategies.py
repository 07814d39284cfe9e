"""Strategy trees: loading ``strategies.yaml`` and refusing a bad one on load.

A node names a model and maps each of its output slots to a final stem name,
to ``discard``, or to another node that processes that slot further.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from stemdeck.core.catalog import CATALOG, ModelSpec

DISCARD = "discard"
STEM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
STRATEGY_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# Stems are listed in the order musicians expect; others follow in tree order.
STEM_ORDER = ("vocals", "drums", "bass", "guitar", "piano", "other")


class StrategyFileError(Exception):
    """A strategies file that cannot be used; lists every problem with its place."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source} is invalid:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Node:
    model: ModelSpec
    params: dict[str, float]
    outputs: dict[str, str | Node]

    def walk(self) -> list[Node]:
        found = [self]
        for target in self.outputs.values():
            if isinstance(target, Node):
                found.extend(target.walk())
        return found


@dataclass(frozen=True)
class Strategy:
    name: str
    label: str
    tree: Node
    stems: tuple[str, ...] = field(default=())

    @property
    def models(self) -> list[str]:
        seen: list[str] = []
        for node in self.tree.walk():
            if node.model.id not in seen:
                seen.append(node.model.id)
        return seen

    @property
    def cost(self) -> float:
        return sum(node.model.cost for node in self.tree.walk())


def _leaf_stems(node: Node) -> list[str]:
    stems: list[str] = []
    for target in node.outputs.values():
        if isinstance(target, Node):
            stems.extend(_leaf_stems(target))
        elif target != DISCARD:
            stems.append(target)
    return stems


def _stem_rank(stem: str) -> int:
    return STEM_ORDER.index(stem) if stem in STEM_ORDER else len(STEM_ORDER)


def _parse_node(raw: Any, where: str, problems: list[str]) -> Node | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping with 'model' and 'outputs'")
        return None
    unknown_keys = sorted(set(raw) - {"model", "outputs", "params"})
    if unknown_keys:
        problems.append(f"{where}: unknown keys {unknown_keys} (allowed: model, outputs, params)")
    model_id = raw.get("model")
    spec = CATALOG.get(model_id) if isinstance(model_id, str) else None
    if spec is None:
        problems.append(
            f"{where}.model: unknown model {model_id!r} (known: {', '.join(sorted(CATALOG))})"
        )
        return None
    params_raw = raw.get("params") or {}
    params: dict[str, float] = {}
    if not isinstance(params_raw, dict):
        problems.append(f"{where}.params: must be a mapping")
    else:
        try:
            params = spec.resolve_params(params_raw)
        except ValueError as error:
            problems.append(f"{where}.params: {error}")
    outputs_raw = raw.get("outputs")
    if not isinstance(outputs_raw, dict):
        problems.append(f"{where}.outputs: must map each slot of {spec.id} {list(spec.slots)}")
        return None
    extra = [slot for slot in outputs_raw if slot not in spec.slots]
    missing = [slot for slot in spec.slots if slot not in outputs_raw]
    if extra:
        problems.append(
            f"{where}.outputs: {spec.id} has no slot(s) {extra} (it has {list(spec.slots)})"
        )
    if missing:
        problems.append(
            f"{where}.outputs: slot(s) {missing} of {spec.id} are not mapped "
            "(map each to a stem name, 'discard', or a node)"
        )
    outputs: dict[str, str | Node] = {}
    for slot in spec.slots:
        if slot not in outputs_raw:
            continue
        target = outputs_raw[slot]
        if isinstance(target, str):
            if target != DISCARD and not STEM_NAME.match(target):
                problems.append(
                    f"{where}.outputs.{slot}: stem name {target!r} must be lower-case letters, "
                    "digits or _ (at most 32), starting with a letter"
                )
            outputs[slot] = target
        else:
            child = _parse_node(target, f"{where}.outputs.{slot}", problems)
            if child is not None:
                outputs[slot] = child
    return Node(model=spec, params=params, outputs=outputs)


def parse_strategies(raw: Any, source: str) -> dict[str, Strategy]:
    problems: list[str] = []
    if not isinstance(raw, dict) or not isinstance(raw.get("strategies"), dict):
        raise StrategyFileError(source, ["top level must be a mapping with a 'strategies' mapping"])
    found: dict[str, Strategy] = {}
    for name, body in raw["strategies"].items():
        where = f"strategies.{name}"
        if not isinstance(name, str) or not STRATEGY_NAME.match(name):
            problems.append(f"{where}: name must be lower-case letters, digits, '.', '_' or '-'")
            continue
        if not isinstance(body, dict) or "tree" not in body:
            problems.append(f"{where}: must have a 'tree' (and a 'label')")
            continue
        before = len(problems)
        tree = _parse_node(body["tree"], f"{where}.tree", problems)
        if tree is None or len(problems) > before:
            continue
        stems = _leaf_stems(tree)
        duplicates = sorted({s for s in stems if stems.count(s) > 1})
        if duplicates:
            problems.append(f"{where}: stem name(s) {duplicates} appear more than once")
            continue
        if not stems:
            problems.append(f"{where}: every output is discarded; keep at least one stem")
            continue
        label = body.get("label")
        found[name] = Strategy(
            name=name,
            label=label if isinstance(label, str) and label else name,
            tree=tree,
            stems=tuple(sorted(stems, key=_stem_rank)),
        )
    if problems:
        raise StrategyFileError(source, problems)
    if not found:
        raise StrategyFileError(source, ["no strategies defined"])
    return found


def load_strategies_file(path: Path | None) -> dict[str, Strategy]:
    """The given file, or the strategies shipped with Stemdeck."""
    if path is None:
        text = resources.files("stemdeck.core").joinpath("strategies.yaml").read_text("utf-8")
        source = "built-in strategies.yaml"
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as error:
            raise StrategyFileError(str(path), [f"cannot read it: {error.strerror}"]) from None
        source = str(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise StrategyFileError(source, [f"not valid YAML: {error}"]) from None
    return parse_strategies(raw, source)


@lru_cache
def cached_strategies(path: Path | None) -> dict[str, Strategy]:
    return load_strategies_file(path)
