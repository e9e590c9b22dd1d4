"""The config loader: ``base:`` inheritance (merge, relative paths, chains, cycles)."""

import pytest

from wirelora.config import ConfigError, load_mapping


def test_base_merges_sections_and_replaces_other_values(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text("name: a\ntrainer: {rounds: 5, batch_size: 8}\nevents: [{round: 2}]\n")
    (tmp_path / "sub" / "b.yaml").write_text("base: ../a.yaml\ntrainer: {rounds: 7}\nevents: []\n")
    assert load_mapping(tmp_path / "sub" / "b.yaml") == {
        "name": "a",
        "trainer": {"rounds": 7, "batch_size": 8},
        "events": [],
    }


def test_base_chains(tmp_path):
    (tmp_path / "a.yaml").write_text("x: 1\ny: {p: 1, q: 1}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\ny: {q: 2}\n")
    (tmp_path / "c.yaml").write_text("base: b.yaml\ny: {p: 3}\n")
    assert load_mapping(tmp_path / "c.yaml") == {"x": 1, "y": {"p": 3, "q": 2}}


def test_base_cycle_is_a_one_line_error(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match=r"base cycle a.yaml -> b.yaml -> a.yaml") as err:
        load_mapping(tmp_path / "a.yaml")
    assert "\n" not in str(err.value)
    (tmp_path / "self.yaml").write_text("base: self.yaml\n")
    with pytest.raises(ConfigError, match="base cycle"):
        load_mapping(tmp_path / "self.yaml")


def test_missing_base_names_the_file(tmp_path):
    (tmp_path / "a.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="nowhere.yaml.*no such file"):
        load_mapping(tmp_path / "a.yaml")
