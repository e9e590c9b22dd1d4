"""The typed run-config tree: every section validated at load, unknown keys named, shipped configs' bases."""

import pytest

from wirelora.config import ConfigError, to_jsonable
from wirelora.correction.config import CorrectionConfig, PolicyConfig
from wirelora.experiments.runner import load_run_config
from wirelora.learning.config import RunConfig, TrainerConfig
from wirelora.wireless.config import WirelessConfig


@pytest.mark.parametrize(
    "override, key",
    [
        ("policy.bogus=1", "policy.bogus"),
        ("correction.foo=1", "correction.foo"),
        ("correction.wireless.foo=1", "correction.wireless"),
        ("wireless.foo=1", "wireless.foo"),
        ("trainer.foo=1", "trainer.foo"),
        ("model.foo=1", "model.foo"),
        ("task.foo=1", "task.foo"),
        ("oracle.foo=1", "oracle.foo"),
        ("churn.foo=1", "churn.foo"),
        ("foo=1", "foo"),
    ],
)
def test_unknown_key_in_any_section_is_a_one_line_error_naming_it(override, key):
    with pytest.raises(ConfigError, match=rf"unknown key {key}\b") as err:
        load_run_config("leave-only-correction", [override])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "override, field",
    [
        ("policy.arm=bogus", "policy.arm"),
        ("correction.method=bogus", "correction.method"),
        ("wireless.graph=mesh", "wireless.graph"),
        ("trainer.adam_beta1=1.0", "trainer.adam_beta1"),
        ("policy.prox_overhead=-1", "policy.prox_overhead"),
        ("correction.fisher_samples=0", "correction.fisher_samples"),
    ],
)
def test_bad_value_in_a_section_fails_at_load(override, field):
    with pytest.raises(ConfigError, match=rf"^{field}=") as err:
        load_run_config("leave-only-correction", [override])
    assert "\n" not in str(err.value)


def test_sections_are_typed():
    cfg = load_run_config("leave-only-correction")
    assert isinstance(cfg.correction, CorrectionConfig)
    assert isinstance(cfg.policy, PolicyConfig)
    assert isinstance(cfg.wireless, WirelessConfig)
    assert cfg.correction.method == "proposed" and cfg.wireless.radius_m == 250.0


def test_plain_run_has_no_correction_and_refuses_an_ignored_policy():
    assert load_run_config("leave-only").correction is None
    with pytest.raises(ConfigError, match="^policy=.*correction section"):
        load_run_config("leave-only", ["policy.arm=topology"])
    with pytest.raises(ConfigError, match="^wireless=.*correction section"):
        load_run_config("leave-only", ["wireless.graph=channel_aware"])
    assert load_run_config("leave-only", ["correction.method=naive"]).correction.method == "naive"


def test_leave_only_correction_is_leave_only_plus_its_diff():
    plain = to_jsonable(load_run_config("leave-only"))
    corr = to_jsonable(load_run_config("leave-only-correction"))
    assert corr == {
        **plain,
        "name": "leave-only-correction",
        "correction": to_jsonable(CorrectionConfig(method="proposed")),
    }


def test_defaults_are_what_the_shipped_configs_use():
    t = TrainerConfig()
    assert t.step_size == 0.03 and t.gamma == 1.0
    for name in ("leave-only", "leave-only-correction", "long-run"):
        tc = load_run_config(name).trainer
        assert tc.step_size == 0.03 and tc.gamma == 1.0 and tc.optimizer == "adam"


def test_run_config_round_trips_through_its_dict():
    from wirelora.config import from_dict

    cfg = load_run_config("leave-only-correction", ["wireless.graph=channel_aware", "policy.rule=fisher"])
    assert from_dict(RunConfig, to_jsonable(cfg)) == cfg


def test_the_model_cards_max_devices_bounds_the_slots():
    from wirelora.learning.state import TrainerState

    raw = ["task.num_devices=9", "task.initial_devices=6", "oracle.enabled=false"]
    with pytest.raises(
        ConfigError, match=r"^task.num_devices=9: the model card 'tiny-mlp' has slots for at most"
    ):
        TrainerState(load_run_config("leave-only-mlp", raw), seed=0)
    with pytest.raises(ConfigError, match=r"^model.max_devices=9: the model card"):
        TrainerState(load_run_config("leave-only-mlp", ["model.max_devices=9"]), seed=0)


def test_an_unknown_layer_group_in_model_ranks_is_named():
    from wirelora.learning.state import TrainerState

    with pytest.raises(ConfigError, match=r"^model.ranks.foo=4: not a layer group of model 'tiny-mlp'"):
        TrainerState(load_run_config("leave-only-mlp", ["model.ranks.foo=4"]), seed=0)
