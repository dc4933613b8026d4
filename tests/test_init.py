"""Start from a reference (`tinyzoo build kws/ds_cnn --init kws/ds_cnn.mlperf --set data.labels=[...]`): the
reference's model arguments and front end are kept, its weights taken, the classifier rows of the labels both
lists hold carried over and the new ones drawn afresh; few real clips per keyword on request."""
import pytest
import torch
from tinyzoo.common import recipe
from tinyzoo.common.builders import build_model
from tinyzoo.common.config import load_config
from tinyzoo.common.data.speech_commands import ClipSet, _cap_real_keywords
from tinyzoo.common.errors import ConfigError
from tinyzoo.common.layout import ARTIFACTS, RECIPES
from tinyzoo.common.pipeline import initialise

LABELS = "data.labels=[_silence_, _unknown_, eight]"


def config(*argv):
    return recipe.config(RECIPES / "kws" / "ds_cnn", recipe.arguments("kws/ds_cnn", list(argv)))


def test_init_keeps_the_references_model_and_front_end_and_follows_the_new_labels():
    reference = load_config(ARTIFACTS / "kws" / "ds_cnn.mlperf" / "config.resolved.yaml")
    cfg = config("--init", "kws/ds_cnn.mlperf", "--set", LABELS)
    assert cfg["train"]["init"] == "kws/ds_cnn.mlperf" and cfg["frontend"] == reference["frontend"]
    assert cfg["model"]["args"] == {**reference["model"]["args"], "num_classes": 3}
    assert cfg["data"]["labels"] == ["_silence_", "_unknown_", "eight"]


def test_init_takes_the_weights_and_carries_over_the_rows_of_shared_labels():
    cfg = config("--init", "kws/ds_cnn.mlperf", "--set", LABELS)
    reference_cfg = load_config(ARTIFACTS / "kws" / "ds_cnn.mlperf" / "config.resolved.yaml")
    state = torch.load(ARTIFACTS / "kws" / "ds_cnn.mlperf" / "checkpoint.pt", weights_only=False)
    state = state.get("model", state)
    torch.manual_seed(0)
    model = build_model(cfg)
    record = initialise(model, cfg)
    mine = model.state_dict()
    head = record["classifier"]
    assert head and record["labels_carried_over"] == ["_silence_", "_unknown_"] and record["labels_new"] == ["eight"]
    assert record["tensors_taken"] + len(head) == record["tensors"]
    assert all(torch.equal(mine[k], state[k]) for k in mine if k not in head)
    old = reference_cfg["data"]["labels"]
    for key in head:
        for new, label in enumerate(["_silence_", "_unknown_"]):
            assert torch.equal(mine[key][new], state[key][old.index(label)])
        assert not any(torch.equal(mine[key][2], row) for row in state[key])   # "eight": drawn afresh


def test_init_names_what_cannot_be_a_starting_point():
    with pytest.raises(ConfigError, match="--init kws/nothing: no published model with its weights"):
        config("--init", "kws/nothing")
    with pytest.raises(ConfigError, match="--init kws/kwt: its weights are a kws/kwt, this recipe builds a kws/ds_cnn"):
        config("--init", "kws/kwt")


def test_real_clips_per_keyword_are_capped_and_the_rest_kept():
    """data.real_per_keyword: a seeded draw of at most N real clips of each keyword; synthetic clips and
    `_unknown_` clips all stay."""
    sources = ["v2"] * 6 + ["synthetic"] * 3 + ["v2"] * 2
    labels = torch.tensor([2, 2, 2, 2, 3, 3, 2, 2, 3, 1, 1])
    clips = ClipSet(torch.zeros(11, 4, dtype=torch.int16), labels, [f"c{i}" for i in range(11)], sources,
                    ["_silence_", "_unknown_", "eight", "nine"])
    capped = _cap_real_keywords(clips, 1, seed=0)
    real = [(s, int(y)) for s, y in zip(capped.sources, capped.labels) if s != "synthetic"]
    assert sorted(y for _, y in real) == [1, 1, 2, 3]
    assert capped.sources.count("synthetic") == 3
    assert _cap_real_keywords(clips, 1, seed=0).ids == capped.ids
    assert [s for s in _cap_real_keywords(clips, 0, seed=0).sources if s != "synthetic"] == ["v2", "v2"]


def test_the_custom_keyword_table_reads_detections_and_false_accepts_from_the_confusion_matrix():
    """scripts/custom_keyword.py: the word's detection rate and the other words taken for it, per build."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("custom_keyword", RECIPES.parent / "scripts" / "custom_keyword.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    def metrics(matrix):
        return {"confusion": {"labels": ["_silence_", "_unknown_", "eight"], "matrix": matrix},
                "accuracy": {"tosa_int8": {"ethos-u55-128": 0.9}}, "targets": {"ethos-u55-128": {}},
                "data": {"test": {"per_class": {"_silence_": 10, "_unknown_": 100, "eight": 20}},
                         "train": {"per_class": {"eight": 1500}}}}

    scratch = metrics([[10, 0, 0], [0, 96, 4], [1, 9, 10]])
    init = metrics([[10, 0, 0], [0, 99, 1], [0, 5, 15]])
    assert script.row("x", scratch, "eight") == ["x", "50.00 % (10 / 20)", "4.00 % (4 / 100)", "90.00 %"]
    text = script.render("eight", {"scratch": scratch, "init": init}, real=0, epochs=10)
    assert text.startswith(script.BEGIN) and text.endswith(script.END) and "75.00 % (15 / 20)" in text
    assert "1,500 training clips of it (synthetic speech, at most 0 real)" in text


def test_a_damaged_checkpoint_is_one_line(tmp_path):
    from tinyzoo.common.errors import ArtifactError
    from tinyzoo.common.train import float_weights

    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ArtifactError, match="checkpoint.pt cannot be loaded .*: fetch it again"):
        float_weights(tmp_path / "checkpoint.pt")
