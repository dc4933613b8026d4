from pathlib import Path

import pytest

from tinyzoo.common.config import apply_overrides, build_model, load_config, resolved
from tinyzoo.common.errors import TinyzooError

RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "kws" / "ds_cnn" / "config.yaml"


def test_recipe_config_builds_its_model():
    cfg = load_config(RECIPE)
    model = build_model(cfg)
    assert model.classifier.out_features == len(cfg["data"]["labels"]) == 12


def test_overrides_parse_yaml_values_and_reject_unknown_keys():
    cfg = load_config(RECIPE)
    out = apply_overrides(cfg, ["train.epochs=3", "export.targets=[ethos-u85-256]", "train.augment.noise_prob=0"])
    assert out["train"]["epochs"] == 3 and out["export"]["targets"] == ["ethos-u85-256"]
    assert out["train"]["augment"]["noise_prob"] == 0
    assert cfg["train"]["epochs"] != 3  # the original is untouched
    with pytest.raises(TinyzooError, match="no key 'epoch'.*epochs"):
        apply_overrides(cfg, ["train.epoch=3"])
    with pytest.raises(TinyzooError, match="section.key=value"):
        apply_overrides(cfg, ["train.epochs"])


def test_resolved_records_tool_versions():
    run = resolved(load_config(RECIPE))["run"]
    assert run["tools"]["executorch"].startswith("1.5") and "vela" in run["tools"]


def test_bad_config_file(tmp_path):
    (tmp_path / "c.yaml").write_text("- a list\n")
    with pytest.raises(TinyzooError, match="mapping"):
        load_config(tmp_path / "c.yaml")
    with pytest.raises(TinyzooError, match="not found"):
        load_config(tmp_path / "missing.yaml")
