"""evaluation/names.py: every name a config accepts has a label and a colour, and the figures' lists are
names the config accepts."""

import pytest

from wirelora.cli import main
from wirelora.correction import config as policy
from wirelora.evaluation import names


def test_every_method_arm_and_rule_has_a_label_and_a_colour():
    for name in (*policy.METHODS, *policy.ARMS, *policy.RULES):
        assert names.label(name) != name or name in ("full", "topology"), name  # two arms keep their key
        assert names.color(name) is not None, name
    assert set(names.ACTION_COLORS) == {*policy.ACTIONS, "none"}


def test_the_papers_lists_are_valid_config_names():
    assert set(names.PAPER_METHODS) <= set(policy.METHODS)
    assert set(names.PAPER_ARMS) <= set(policy.ARMS)
    assert names.METHODS is policy.METHODS and names.ARMS is policy.ARMS


def test_unknown_names_are_drawn_as_given():
    assert names.label("my_method") == "my_method" and names.color("my_method") is None


def test_the_cli_lists_the_names_a_run_config_accepts(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for name in (*policy.METHODS, *policy.ARMS, *policy.RULES):
        assert name in out
    assert "kd_unlearn (KD-Unlearn)" in out
