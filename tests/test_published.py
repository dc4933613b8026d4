"""The published cards and artifacts: generated (not hand-edited), meeting the bar every card claims, and
usable through the CLI."""
import json

import pytest

from common.card import render_card
from zoo import cli, get, list_models

PUBLISHED = [get(n) for n in list_models() if get(n).published]
pytestmark = pytest.mark.skipif(not PUBLISHED, reason="no model is published yet")
FOUR_TARGETS = {"ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u85-256"}
# int8 (TOSA reference) vs float: 0.5 pp for the CNN recipes, 1 pp for transformers (softmax, GELU and
# normalisation in int8), as the issues that asked for them set.
INT8_TOLERANCE = {"kws/kwt": 0.01, "vision/vit_tiny_cifar10": 0.01}


@pytest.fixture(params=PUBLISHED, ids=lambda m: m.name)
def model(request):
    return request.param


def test_card_is_generated_from_its_metrics(model):
    metrics = model.metrics()
    assert model.card_path.read_text() == render_card(metrics, f"{model.stem}/confusion.png")
    assert (model.metrics_path.parent / "confusion.png").exists()


def test_card_meets_the_bar(model):
    m = model.metrics()
    test = m["data"]["test"]
    assert m["accuracy"]["samples"] == test.get("clips", test.get("images")) and m["config"]["profile"] == "full"
    assert set(m["targets"]) >= FOUR_TARGETS
    for target, r in m["targets"].items():
        assert r["cpu_ops"] == 0 and r["npu_op_fraction"] == 1.0
        assert r["cycles"] > 0 and r["sram_kib"] > 0 and r["flash_kib"] + r["dram_kib"] > 0
        assert abs(m["accuracy"]["tosa_int8"][target] - m["accuracy"]["float"]) <= INT8_TOLERANCE.get(model.name, 0.005)
        assert (model.artifacts_dir / target / "model.pte").stat().st_size == r["pte_bytes"]


def test_info_json_prints_the_metrics(model, capsys):
    assert cli.main(["info", model.name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == model.metrics()["accuracy"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kws/ds_cnn", "kws/kwt"])
def test_eval_published_kws_model_on_the_bundled_sample(name):
    """As a user runs it: a fresh `tinyzoo eval` process on the published artifacts and the bundled sample."""
    import subprocess
    import sys

    if not get(name).published:
        pytest.skip(f"{name} is not published")
    done = subprocess.run([sys.executable, "-m", "zoo", "eval", name, "--target", "ethos-u55-128", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["samples"] == 112 and set(result["tosa_int8"]) == {"ethos-u55-128"}
    assert result["agreement_tosa_fake_quant"]["ethos-u55-128"] == 1.0


def test_readme_model_table_is_generated_from_the_cards():
    from common.card import render_model_table
    from zoo.registry import REPO

    table = render_model_table([m.metrics() for m in PUBLISHED])
    assert f"<!-- model-table:start -->\n{table}\n<!-- model-table:end -->" in (REPO / "README.md").read_text()
