"""The published DS-CNN card and artifacts: generated (not hand-edited), meeting the issue's bar, and usable
through the CLI on the bundled sample."""
import json

import pytest

from common.card import render_card
from zoo import cli, get

MODEL = get("kws/ds_cnn")
pytestmark = pytest.mark.skipif(not MODEL.published, reason="kws/ds_cnn is not published yet")


def test_card_is_generated_from_its_metrics():
    metrics = MODEL.metrics()
    assert MODEL.card_path.read_text() == render_card(metrics, "kws__ds_cnn/confusion.png")
    assert (MODEL.metrics_path.parent / "confusion.png").exists()


def test_card_meets_the_bar():
    m = MODEL.metrics()
    assert m["accuracy"]["samples"] == 1357 and m["config"]["profile"] == "full"
    assert set(m["targets"]) >= {"ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u85-256"}
    for target, r in m["targets"].items():
        assert r["cpu_ops"] == 0 and r["npu_op_fraction"] == 1.0
        assert r["cycles"] > 0 and r["sram_kib"] > 0 and r["flash_kib"] + r["dram_kib"] > 0
        assert abs(m["accuracy"]["tosa_int8"][target] - m["accuracy"]["float"]) <= 0.005
        assert (MODEL.artifacts_dir / target / "model.pte").stat().st_size == r["pte_bytes"]


def test_info_json_prints_the_metrics(capsys):
    assert cli.main(["info", "kws/ds_cnn", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == MODEL.metrics()["accuracy"]


@pytest.mark.slow
def test_eval_published_model_on_the_bundled_sample(capsys):
    assert cli.main(["eval", "kws/ds_cnn", "--target", "ethos-u55-128", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 112 and set(result["tosa_int8"]) == {"ethos-u55-128"}
    assert result["agreement_int8_float"]["ethos-u55-128"] > 0.9
