"""The card generator: HF metadata that parses and carries the measured numbers, per-target rows, the confusion
plot, and the README table between its markers."""
import json

import pytest
import yaml
from tinyzoo.common.card import (
    render_card,
    render_model_table,
    update_readme_table,
    write_card,
)


def target(name, cycles, clock=500e6, cpu_ops=0):
    return {"target": name, "system_config": "Ethos_U55_High_End_Embedded", "memory_mode": "Shared_Sram",
            "core_clock_hz": clock, "cycles": cycles, "inference_time_ms": cycles / clock * 1e3, "sram_kib": 21.56,
            "off_chip_flash_kib": 29.16, "on_chip_flash_kib": 0.0, "dram_kib": 0.0, "macs": 2664768,
            "mac_utilisation": 2664768 / (cycles * 128), "npu_ops": 65, "cpu_ops": cpu_ops,
            "cpu_op_names": ["aten.where"] if cpu_ops else [], "npu_op_fraction": 1.0, "pte_bytes": 35776,
            "export_seconds": 3.9}


@pytest.fixture
def metrics():
    labels = ["_silence_", "_unknown_", "yes"]
    return {
        "model": "kws/demo", "title": "Demo KWS", "task": "keyword-spotting", "summary": "A demo.",
        "intended_use": "Tests.", "license": "apache-2.0", "created": "2026-11-25",
        "reproduce": "tinyzoo build kws/demo",
        "datasets": [{"name": "Speech Commands v0.02", "id": "google/speech_commands", "license": "CC BY 4.0"}],
        "limitations": ["Small test set."], "labels": labels, "frontend": {"type": "mfcc", "n_mfcc": 10},
        "frontend_matches": "ML-zoo framing.",
        "data": {"train": {"clips": 30, "per_class": {"yes": 10}, "per_source": {"synthetic": 30}},
                 "test": {"clips": 12, "per_class": {"yes": 4}, "per_source": {"speech_commands_v0.02": 12}},
                 "synthetic": None},
        "model_info": {"params": 23180, "macs": 2664768, "input": {"shape": [1, 1, 49, 10], "dtype": "int8"}},
        "training": {"epochs": 2, "seconds": 10.0, "seconds_per_epoch": 5.0,
                     "final": {"loss": 0.5, "train_accuracy": 0.9}},
        "config": {"train": {"batch_size": 100, "optimizer": "adam", "lr": 0.003, "seed": 0}, "profile": "full"},
        "quantization": {"scheme": "a8w8", "deployed": "ptq", "ptq": {"calibration_samples": 64}, "qat": None,
                         "io": {"input": {"scale": 0.41, "zero_point": 84},
                                "output": {"scale": 0.0017, "zero_point": 44}}},
        "accuracy": {"samples": 12, "float": 0.75, "fake_quant_int8": 0.75,
                     "tosa_int8": {"ethos-u55-128": 0.7333, "ethos-u85-256": 0.7333},
                     "agreement_int8_float": {"ethos-u55-128": 0.98, "ethos-u85-256": 0.98},
                     "agreement_tosa_fake_quant": {"ethos-u55-128": 1.0, "ethos-u85-256": 0.99},
                     "max_lsb_diff_tosa_fake_quant": {"ethos-u55-128": 0, "ethos-u85-256": 1}},
        "targets": {"ethos-u55-128": target("ethos-u55-128", 107389),
                    "ethos-u85-256": target("ethos-u85-256", 51234, 1e9)},
        "confusion": {"labels": labels, "matrix": [[4, 0, 0], [0, 3, 1], [0, 1, 3]], "source": "int8 TOSA reference"},
        "tools": {"executorch": "1.5.1"},
    }


def test_metadata_is_valid_yaml_with_the_measured_numbers(metrics):
    text = render_card(metrics)
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["library_name"] == "executorch" and meta["pipeline_tag"] == "audio-classification"
    results = meta["model-index"][0]["results"][0]
    assert meta["model-index"][0]["name"] == "kws/demo"
    values = {m["name"]: m["value"] for m in results["metrics"]}
    assert values["float accuracy"] == 0.75
    assert values["int8 accuracy, TOSA reference (ethos-u85-256)"] == 0.7333


def test_card_reads_back_through_huggingface_hub(metrics):
    """The card is a valid Hub model card: huggingface_hub parses its metadata and model-index back into
    EvalResults with the measured figures, and its human part holds the template's sections."""
    from huggingface_hub import ModelCard

    card = ModelCard(render_card(metrics))
    assert card.data.model_name == "kws/demo" and card.data.library_name == "executorch"
    results = {r.metric_name: (r.metric_type, r.metric_value, r.dataset_split) for r in card.data.eval_results}
    assert results["float accuracy"] == ("accuracy", 0.75, "test")
    assert results["int8 accuracy, TOSA reference (ethos-u55-128)"] == ("accuracy", 0.7333, "test")
    assert len(results) == 2 + len(metrics["targets"])
    assert card.text.lstrip().startswith("# ") and "## How to reproduce" in card.text


def test_human_part_has_every_target_and_section(metrics):
    text = render_card(metrics)
    for heading in ("## Intended use", "## Data", "## Front end", "## Training", "## Accuracy", "## On the NPU",
                    "## Limitations", "## Licence", "## How to reproduce"):
        assert heading in text
    assert "| ethos-u55-128 | Ethos_U55_High_End_Embedded / Shared_Sram | 500 MHz | 107,389 | 0.215 |" in text
    assert "| ethos-u85-256 |" in text and "51,234" in text
    assert "| int8 TOSA reference, ethos-u85-256 | 73.33 % | 98.00 % | 99.00 % | 1 LSB |" in text


def test_training_line_states_processes_devices_and_precision(metrics):
    from tinyzoo.common.train import TrainResult

    before = render_card(metrics)
    one = TrainResult(world_size=1, devices="1 x CPU", global_batch_size=100)
    metrics["training"].update(one.setup())               # one fp32 process: the card reads as before
    assert render_card(metrics) == before
    two = TrainResult(world_size=2, devices="2 x CPU (gloo)", global_batch_size=100,
                      batch_norm="per-process statistics")
    metrics["training"].update(two.setup())
    line = next(l for l in render_card(metrics).splitlines() if l.startswith("2 epochs, batch 100"))
    assert line.startswith("2 epochs, batch 100 (the global batch: 2 processes x 50, PyTorch DDP on 2 x CPU (gloo) "
                           "averaging gradients; batch norm: per-process statistics; augmentation and dropout draws "
                           "of process r seeded with seed + 1 + r), adam lr 0.003")
    metrics["training"]["precision"] = "bf16 autocast"
    assert "seed + 1 + r), bf16 autocast, adam lr" in render_card(metrics)


def test_cpu_fallback_is_named(metrics):
    metrics["targets"]["ethos-u55-128"] = target("ethos-u55-128", 107389, cpu_ops=1)
    assert "65 / 1 (aten.where)" in render_card(metrics)


def test_write_card_files(metrics, tmp_path):
    card = write_card(metrics, tmp_path)
    assert card == tmp_path / "kws__demo.md"
    assert json.loads((tmp_path / "kws__demo" / "metrics.json").read_text()) == metrics
    png = tmp_path / "kws__demo" / "confusion.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert "![confusion matrix](kws__demo/confusion.png)" in card.read_text()
    assert not list(tmp_path.rglob("*.tmp*"))


def test_readme_table_between_markers(metrics, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# zoo\n<!-- model-table:start -->\nold\n<!-- model-table:end -->\ntail\n")
    table = render_model_table([metrics])
    update_readme_table(readme, table)
    text = readme.read_text()
    assert "old" not in text and text.endswith("tail\n") and "[card](cards/kws__demo.md)" in text
    assert ("| `kws/demo` | keyword-spotting | 23,180 | 2.66 M | 12 | 75.00 % | 73.33 % | – | "
            "0.215 / 21.6 | 0.051 / 21.6 |") in text
    update_readme_table(readme, table)
    assert readme.read_text() == text
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        update_readme_table(readme, table)


def test_training_machine_is_the_one_the_checkpoint_records(metrics):
    metrics["hardware"] = "CPU (build machine)"
    metrics["training"]["hardware"] = "1 x NVIDIA H200"
    assert "on 1 x NVIDIA H200" in render_card(metrics)
    # a build from trained weights whose checkpoint does not say where they were trained does not name its own
    metrics["training"]["hardware"] = None
    card = render_card(metrics)
    assert "on a machine its checkpoint does not record" in card and "build machine" not in card.split("## Training")[1]


def test_the_quality_a_card_shows_follows_the_task(metrics):
    """One view per kind of quality figures (classifier accuracy, LM perplexity, a deployed model's fidelity),
    chosen by the metrics' task; metrics without their task's figures are refused by name, not rendered half."""
    from tinyzoo.common.card import quality_of

    assert quality_of(metrics).name == "accuracy" and "## Accuracy: float → int8" in render_card(metrics)
    assert quality_of({"task": "text-generation", "perplexity": {}}).frontend_title == "## Tokenizer"
    assert quality_of({"task": "user-model", "fidelity": {}, "accuracy": {}}).name == "SQNR"
    del metrics["accuracy"]
    with pytest.raises(ValueError, match="kws/demo hold no accuracy figures \\(task keyword-spotting\\)"):
        render_card(metrics)
