from pathlib import Path

import pytest
from tinyzoo.common.builders import build_model
from tinyzoo.common.config import (
    apply_overrides,
    load_config,
    load_recipe_config,
    resolved,
)
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


def test_overrides_may_add_an_optional_key_the_schema_has_where_the_recipe_leaves_it_out():
    """--set data.real_per_keyword=0 on a KWS recipe (speech_commands data allow it), train.distill on any recipe;
    a key the schema does not have for that section (a CIFAR data section has no real_per_keyword) is refused."""
    cfg = load_config(RECIPE)
    out = apply_overrides(cfg, ["data.real_per_keyword=0", "train.distill={teacher: kws/ds_cnn.mlperf, "
                                                           "temperature: 4, weight: 0.5}"])
    assert out["data"]["real_per_keyword"] == 0 and out["train"]["distill"]["temperature"] == 4
    vision = load_config(RECIPE.parents[2] / "vision" / "resnet8_cifar10" / "config.yaml")
    with pytest.raises(TinyzooError, match="no key 'real_per_keyword' in section data"):
        apply_overrides(vision, ["data.real_per_keyword=0"])


def test_numbers_in_exponent_form_are_numbers(tmp_path):
    """YAML 1.1 (PyYAML's default) reads `3e-5` as a string, which the schema then refuses as a learning rate."""
    cfg = load_config(RECIPE)
    out = apply_overrides(cfg, ["quantize.qat.lr=3e-5", "train.lr=2E-3", "card.license=1e"])
    assert out["quantize"]["qat"]["lr"] == 3e-5 and out["train"]["lr"] == 2e-3 and out["card"]["license"] == "1e"
    (tmp_path / "c.yaml").write_text("train: {lr: 1e-4, epochs: 3, name: 1.2.3}\n")
    assert load_config(tmp_path / "c.yaml")["train"] == {"lr": 1e-4, "epochs": 3, "name": "1.2.3"}


def test_resolved_records_tool_versions():
    run = resolved(load_config(RECIPE))["run"]
    assert run["tools"]["executorch"].startswith("1.5") and "vela" in run["tools"]


def test_bad_config_file(tmp_path):
    (tmp_path / "c.yaml").write_text("- a list\n")
    with pytest.raises(TinyzooError, match="mapping"):
        load_config(tmp_path / "c.yaml")
    with pytest.raises(TinyzooError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_model_args_are_checked_against_the_registered_builders_signature():
    """The builder a recipe registers (@register_model) is found by the recipe's name; its annotated signature is
    the schema of model.args: types, ranges (typing.Annotated), unknown names."""
    from tinyzoo.common.builders import args_schema, get_builder
    from tinyzoo.common.config import config_problems
    from tinyzoo.recipes.kws.ds_cnn.model import ds_cnn

    assert get_builder("kws/ds_cnn") is ds_cnn
    assert set(args_schema(ds_cnn)) == {"num_classes", "filters", "blocks", "dropout", "tf_padding"}
    cfg = load_recipe_config(Path(__file__).resolve().parents[1] / "recipes/kws/ds_cnn")
    cfg["model"]["args"].update(num_classes=1, dropout=1.5, filters="wide")
    assert sorted(config_problems(cfg)) == ["model.args.dropout = 1.5: must be a number >= 0 < 1",
                                           "model.args.filters = 'wide': must be an integer >= 1",
                                           "model.args.num_classes = 1: must be an integer >= 2"]
    cfg["model"]["name"] = "kws/no_such_model"
    assert any("no recipes/kws/no_such_model/model.py" in p for p in config_problems(cfg))


def test_card_prose_is_read_from_the_card_text_beside_the_config(tmp_path):
    """config.yaml keeps the card's facts, card.md its prose; a recipe's config has both, in the schema's order."""
    import shutil

    from tinyzoo.common import card_text
    from tinyzoo.common.config import config_problems
    from tinyzoo.common.errors import ConfigError

    cfg = load_recipe_config(RECIPE.parent)
    assert "title" not in load_config(RECIPE)["card"] and config_problems(cfg) == []
    assert list(cfg["card"])[:3] == ["title", "task", "summary"] and len(cfg["card"]["limitations"]) == 3
    recipe = tmp_path / "r"
    shutil.copytree(RECIPE.parent, recipe, ignore=shutil.ignore_patterns("firmware", "__pycache__"))
    prose = card_text.read(recipe / "card.md")
    card_text.write(prose, recipe / "card.md", width=60)                  # wrapped otherwise: the same text
    assert card_text.read(recipe / "card.md") == prose
    (recipe / "card.md").write_text((recipe / "card.md").read_text().replace("## Front end", "## Frontend"))
    with pytest.raises(ConfigError, match=r"card.md: unknown section '## Frontend' \(the sections are: Intended use, "
                                          r"Front end, Limitations, Data note\)"):
        load_recipe_config(recipe)
    (recipe / "card.md").write_text("# Title\n\nA summary.\n")
    with pytest.raises(ConfigError, match="card.md: missing or empty: intended_use, frontend_matches, limitations"):
        load_recipe_config(recipe)
