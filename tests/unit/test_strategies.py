from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stemdeck.core.strategies import (
    DISCARD,
    Node,
    StrategyFileError,
    load_strategies_file,
    parse_strategies,
)


def problems_of(document: object) -> list[str]:
    with pytest.raises(StrategyFileError) as caught:
        parse_strategies(document, "test.yaml")
    return caught.value.problems


def one(tree: object) -> dict[str, object]:
    return {"strategies": {"s": {"label": "S", "tree": tree}}}


def test_shipped_strategies_load_with_their_stems_in_musician_order() -> None:
    strategies = load_strategies_file(None)
    assert strategies["four-stems-dsp"].stems == ("vocals", "drums", "bass", "other")
    assert strategies["four-stems-dsp"].models == [
        "builtin:crossover",
        "builtin:hpss",
        "builtin:center",
    ]
    for strategy in strategies.values():
        assert strategy.label and strategy.stems


def test_nested_tree_and_discard() -> None:
    strategies = parse_strategies(
        one(
            {
                "model": "builtin:center",
                "outputs": {
                    "center": DISCARD,
                    "sides": {
                        "model": "builtin:hpss",
                        "outputs": {"harmonic": "pad", "percussive": "hits"},
                    },
                },
            }
        ),
        "test.yaml",
    )
    tree = strategies["s"].tree
    assert tree.outputs["center"] == DISCARD
    assert isinstance(tree.outputs["sides"], Node)
    assert strategies["s"].stems == ("pad", "hits")
    assert tree.outputs["sides"].params == {"kernel": 17.0, "power": 2.0}


def test_unknown_model_is_named() -> None:
    [problem] = problems_of(one({"model": "demucs:nope", "outputs": {"a": "a"}}))
    assert "strategies.s.tree.model" in problem and "'demucs:nope'" in problem


def test_slot_the_model_does_not_have_and_missing_slot_are_named() -> None:
    found = problems_of(one({"model": "builtin:crossover", "outputs": {"low": "bass", "mid": "x"}}))
    assert any("no slot(s) ['mid']" in p for p in found)
    assert any("['high']" in p and "not mapped" in p for p in found)


def test_duplicate_stem_names_are_named() -> None:
    [problem] = problems_of(
        one(
            {
                "model": "builtin:crossover",
                "outputs": {
                    "low": "bass",
                    "high": {
                        "model": "builtin:center",
                        "outputs": {"center": "bass", "sides": "x"},
                    },
                },
            }
        )
    )
    assert "['bass']" in problem and "more than once" in problem


def test_params_are_checked() -> None:
    found = problems_of(
        one(
            {
                "model": "builtin:crossover",
                "params": {"cutoff_hz": 5, "q": 1},
                "outputs": {"low": "a", "high": "b"},
            }
        )
    )
    assert any("unknown params ['q']" in p for p in found)
    found = problems_of(
        one(
            {
                "model": "builtin:crossover",
                "params": {"cutoff_hz": 5},
                "outputs": {"low": "a", "high": "b"},
            }
        )
    )
    assert any("cutoff_hz=5 is outside" in p for p in found)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], "top level"),
        ({"strategies": {}}, "no strategies"),
        ({"strategies": {"s": {"label": "x"}}}, "must have a 'tree'"),
        ({"strategies": {"Bad Name": {"tree": {}}}}, "name must be"),
        (
            one({"model": "builtin:center", "outputs": {"center": DISCARD, "sides": DISCARD}}),
            "every output is discarded",
        ),
        (
            one({"model": "builtin:center", "outputs": {"center": "Vocals!", "sides": "x"}}),
            "stem name 'Vocals!'",
        ),
        (one({"model": "builtin:center", "outputs": ["center"]}), "must map each slot"),
        (one("builtin:center"), "must be a mapping"),
    ],
)
def test_malformed_documents_say_what_is_wrong(document: object, expected: str) -> None:
    assert any(expected in problem for problem in problems_of(document))


def test_every_problem_is_reported_at_once() -> None:
    document = {
        "strategies": {
            "a": {"tree": {"model": "nope:x", "outputs": {}}},
            "b": {"tree": {"model": "builtin:center", "outputs": {"center": "x"}}},
        }
    }
    assert len(problems_of(document)) == 2


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "strategies.yaml"
    broken.write_text("strategies: [unclosed")
    with pytest.raises(StrategyFileError, match=str(broken)):
        load_strategies_file(broken)
    with pytest.raises(StrategyFileError, match="cannot read it"):
        load_strategies_file(tmp_path / "missing.yaml")
    broken.write_text(
        yaml.safe_dump(one({"model": "builtin:center", "outputs": {"center": "v", "sides": "s"}}))
    )
    assert load_strategies_file(broken)["s"].stems == ("v", "s")
