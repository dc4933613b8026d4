"""The whole chain as a user runs it: `tinyzoo build --profile quick` on the bundled sample, then `tinyzoo eval`
and `tinyzoo export` on what it built. Slow (about a minute on 2 cores)."""
import json
import re

import pytest
from tinyzoo import cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    build_dir = tmp_path_factory.mktemp("build")
    assert cli.main(["build", "kws/ds_cnn", "--profile", "quick", "--build-dir", str(build_dir),
                     "--set", "train.epochs=2", "--set", "data.synthetic.per_word=30",
                     "--target", "ethos-u55-128", "--target", "ethos-u85-256"]) == 0
    return build_dir


def test_build_leaves_programs_card_and_metrics(build):
    metrics = json.loads((build / "metrics.json").read_text())
    for target in ("ethos-u55-128", "ethos-u85-256"):
        assert (build / target / "model.pte").stat().st_size > 10_000
        r = metrics["targets"][target]
        assert r["cpu_ops"] == 0 and r["npu_ops"] > 0 and r["cycles"] > 0 and r["sram_kib"] > 0
        assert metrics["accuracy"]["max_lsb_diff_tosa_fake_quant"][target] <= 1
    assert metrics["accuracy"]["samples"] == 112                                 # the bundled test clips
    assert metrics["data"]["train"]["per_source"]["synthetic"] > 0
    assert metrics["data"]["synthetic"]["per_engine"]
    assert len((build / "calibration.txt").read_text().split()) >= 64
    card = (build / "card" / "kws__ds_cnn.md").read_text()
    assert "ethos-u85-256" in card and f"{metrics['targets']['ethos-u55-128']['cycles']:,}" in card


def test_eval_reproduces_the_build_numbers(build, capsys):
    capsys.readouterr()
    assert cli.main(["eval", "kws/ds_cnn", "--artifacts", str(build), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    metrics = json.loads((build / "metrics.json").read_text())
    assert result["samples"] == 112
    assert result["float"] == pytest.approx(metrics["accuracy"]["float"])
    assert result["tosa_int8"] == pytest.approx(metrics["accuracy"]["tosa_int8"])


def test_export_for_another_target(build, tmp_path, capsys):
    assert cli.main(["export", "kws/ds_cnn", "--artifacts", str(build), "--target", "ethos-u65-256",
                     "--out", str(tmp_path)]) == 0
    assert (tmp_path / "ethos-u65-256" / "model.pte").stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "ethos-u65-256" in out
    # the memory fit of the new .pte on every board that carries the U65 (the Corstone-300 only)
    fit_lines = [line for line in out.splitlines() if line.strip().startswith("memory fit on ")]
    assert [line.split()[3].rstrip(":") for line in fit_lines] == ["corstone-300"]
    assert re.search(r"memory fit on corstone-300: (fits \(.*KiB\)|needs [\d.]+ KiB more )", fit_lines[0]), out
