"""The Task interface: one module per task, found by its name; the CLI, the catalogue, the memory fit and the
firmware header go through it; task modules import without torch (the CLI lists models in a fraction of a
second)."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest
import yaml
from tinyzoo import registry
from tinyzoo.common import boards, tasks
from tinyzoo.common.config import load_recipe_config, validate
from tinyzoo.common.errors import ConfigError

from tests.conftest import REPO


def test_every_recipe_resolves_to_the_module_of_its_task():
    for name in registry.list_models():
        cfg = registry.get(name).config
        task = tasks.of(cfg)
        assert task.name == cfg["card"]["task"]
        assert type(task).__module__ == f"tinyzoo.common.tasks.{task.name.replace('-', '_')}"
        assert all(section in cfg for section in task.config_sections)
    assert set(tasks.TASKS) == {"anomaly-detection", "keyword-spotting", "image-classification", "text-generation"}


def test_an_unknown_task_is_a_one_line_error_naming_the_tasks(tmp_path):
    with pytest.raises(ConfigError,
                       match="unknown task 'segmentation': one of anomaly-detection, image-classification"):
        tasks.get("segmentation")
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    text = (REPO / "recipes/kws/ds_cnn/config.yaml").read_text().replace("task: keyword-spotting",
                                                                           "task: segmentation")
    (recipe / "config.yaml").write_text(text)
    shutil.copy(REPO / "recipes/kws/ds_cnn/card.md", recipe)
    with pytest.raises(ConfigError, match="card.task"):
        validate(load_recipe_config(recipe))


def test_a_config_missing_a_section_its_task_needs_names_it(tmp_path):
    cfg = yaml.safe_load((REPO / "recipes/text/tiny_lm/config.yaml").read_text())
    del cfg["generate"]
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    (recipe / "config.yaml").write_text(yaml.safe_dump(cfg))
    shutil.copy(REPO / "recipes/text/tiny_lm/card.md", recipe)
    with pytest.raises(ConfigError, match=r"generate: missing \(required for a text-generation recipe\)"):
        validate(load_recipe_config(recipe))


def test_a_user_model_is_the_base_task_and_its_app_holds_its_int8_input_and_output():
    metrics = {"task": "user-model", "model_info": {"input": {"shape": [1, 3, 16, 16]},
                                                    "output": {"shape": [1, 10]}}}
    assert tasks.of(metrics) is tasks.USER_MODEL and tasks.of({}) is tasks.USER_MODEL
    assert tasks.of(metrics).quality == "fidelity"
    assert boards.app_buffer_bytes(metrics) == 3 * 16 * 16 + 10
    assert boards.read_only_data_bytes(metrics) == 0


def test_each_published_task_sizes_its_own_app_buffers():
    """The reference apps' buffers differ per task: KWS holds audio, MFCC and its workspace; vision an RGB
    frame; the language model its window and token ids, plus its embedding table stored with the model."""
    by_task = {}
    for name in registry.list_models():
        model = registry.get(name)
        if model.published:
            m = model.metrics()
            by_task.setdefault(m["task"], m)
    kws, image, lm = by_task["keyword-spotting"], by_task["image-classification"], by_task["text-generation"]

    def numel(m):
        return math.prod(m["model_info"]["input"]["shape"])
    assert boards.app_buffer_bytes(kws) > numel(kws) + 2 * kws["config"]["data"]["clip_samples"]
    assert boards.app_buffer_bytes(image) == 2 * numel(image) + 4 * len(image["labels"])
    context = lm["model_info"]["input"]["shape"][1]
    assert boards.app_buffer_bytes(lm) == numel(lm) + 4 * (context + 256)
    vocab, dim = lm["model_info"]["output"]["shape"][-1], lm["model_info"]["input"]["shape"][-1]
    assert boards.read_only_data_bytes(lm) == vocab * dim and boards.read_only_data_bytes(kws) == 0


def test_listing_models_imports_no_torch():
    code = ("import sys, json; from tinyzoo import cli; from tinyzoo.common import tasks; "
            "[tasks.get(t) for t in tasks.TASKS]; cli.main(['list', '--json']); "
            "print(json.dumps(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    listed, imported = out[:out.rindex("\n", 0, len(out) - 1) + 1], json.loads(out.splitlines()[-1])
    assert imported == []
    rows = json.loads(listed)
    lm = next(r for r in rows if r["task"] == "text-generation")
    assert "float_perplexity" in lm and "float" not in lm
    kws = next(r for r in rows if r["task"] == "keyword-spotting")
    assert 0 < kws["float"] < 1 and set(kws["tosa_int8"]) == set(kws["targets"])
