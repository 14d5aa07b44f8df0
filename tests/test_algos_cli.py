"""`python -m algos`: presets are printable data, and overrides are validated."""

from __future__ import annotations

import json

import pytest

from algos import SEARCHERS
from algos.__main__ import main


def test_every_searcher_has_both_protocols(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == list(SEARCHERS)
    assert all("nb201, nats" in ln for ln in lines)


def test_show_resolves_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "reinforce", "--protocol", "nats", "--set", "learning_rate=0.02"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["budgets"] == [20000.0, 40000.0, 120000.0]
    assert shown["overrides"] == {"learning_rate": "0.02"}


@pytest.mark.parametrize(("algo", "field", "nb201", "nats"), [
    ("enas", "baseline_update", "nb201-script", "nats-script"),
    ("darts-v2", "step_order", "alpha-first", "weights-first"),
    ("reinforce", "learning_rate", 0.1, 0.01),
    ("gdas", "conv_bias", "never", "if-not-affine"),
])
def test_show_prints_each_eras_rule(algo: str, field: str, nb201, nats, capsys: pytest.CaptureFixture[str]) -> None:
    for protocol, want in (("nb201", nb201), ("nats", nats)):
        assert main(["show", algo, "--protocol", protocol]) == 0
        assert json.loads(capsys.readouterr().out)["config"][field] == want


@pytest.mark.parametrize(("argv", "message"), [
    (["show", "darts-v3"], "unknown algorithm 'darts-v3'; valid: rea"),
    (["show", "rea", "--protocol", "iclr"], "unknown protocol 'iclr' for rea; valid: nb201, nats"),
    (["show", "rea", "--set", "population_size=ten"], "invalid value 'ten' for population_size"),
])
def test_bad_values_name_the_valid_choices(argv: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
