"""Issue 11 — trust under bad input and faults: every user error is one line `tinyzoo: error: ...` with exit code
2 (130 for Ctrl-C), no traceback, and nothing corrupt or stale is left. Each test feeds one kind of bad input."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image
from tinyzoo import cli, hub, registry, verify_artifacts
from tinyzoo.commands import list as list_command
from tinyzoo.common import layout, pipeline, recipe
from tinyzoo.common.config import (
    apply_overrides,
    config_problems,
    load_config,
    load_recipe_config,
    validate,
)
from tinyzoo.common.errors import ArtifactError, ConfigError, DatasetNotFoundError, UnknownModelError

from tests.conftest import REPO  # noqa: E402

RECIPE_CONFIGS = sorted(REPO.glob("recipes/*/*/config.yaml"))
LABELS = ["_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    """The error line of stderr (there must be exactly one, and no traceback)."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("tinyzoo: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def tree_digest(*paths: Path) -> dict:
    """name → SHA-256 of every file under `paths`: to show a command left them untouched."""
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*"))) if f.is_file()]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


# --- 1. config values are checked when the config is resolved -------------------------------------------------

@pytest.mark.parametrize("path", RECIPE_CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_every_shipped_config_and_its_quick_profile_validate(path):
    cfg = load_recipe_config(path.parent)
    assert "quick" in cfg and config_problems(cfg) == []
    name = f"{path.parent.parent.name}/{path.parent.name}"
    for profile in ("full", "quick"):
        args = recipe.build_parser(name).parse_args(["--profile", profile])
        assert recipe.config(path.parent, args)["profile"] == profile


def test_published_resolved_configs_validate():
    resolved = sorted((REPO / "zoo" / "artifacts").glob("*/*/config.resolved.yaml"))
    assert len(resolved) <= len(RECIPE_CONFIGS) + len(list((REPO / "recipes").glob("*/*/weights/*.yaml")))
    for path in resolved:
        assert config_problems(load_config(path)) == [], path


def test_bad_overrides_are_all_named_before_any_data(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "build", lambda *a, **k: pytest.fail("the build must not start"))
    build_dir = tmp_path / "build"
    code, _, err = run(capsys, "build", "kws/ds_cnn", "--build-dir", build_dir, "--set", "frontend.window_ms=0",
                       "--set", "train.epochs=abc", "--set", "train.lr=-1", "--set", "train.batch_size=0")
    assert code == 2 and "Traceback" not in err
    assert err.startswith("tinyzoo: error: recipes/kws/ds_cnn/config.yaml with --set frontend.window_ms=0")
    assert "frontend.window_ms = 0: must be a number > 0" in err
    assert "train.epochs = 'abc': must be an integer >= 0" in err
    assert "train.lr = -1: must be a number > 0" in err
    assert "train.batch_size = 0: must be an integer >= 1" in err
    assert not build_dir.exists()


def test_cross_field_checks():
    cfg = load_recipe_config(REPO / "recipes/kws/ds_cnn")
    problems = config_problems(apply_overrides(cfg, ["frontend.window_ms=2000"]))
    assert any(p.startswith("frontend.window_ms = 2000: a window of 32000 samples at 16000 Hz is longer than "
                            "frontend.n_fft = 1024") for p in problems)
    assert any("longer than the clip (data.clip_samples = 16000)" in p for p in problems)
    assert config_problems(apply_overrides(cfg, ["train.lr=.nan", "quantize.qat.lr=.inf"])) == [
        "train.lr = nan: must be a number > 0", "quantize.qat.lr = inf: must be a number > 0"]
    assert config_problems(apply_overrides(cfg, ["frontend.f_max=9000"])) == [
        "frontend.f_max = 9000: must be <= sample_rate / 2 = 8000"]
    kwt = load_recipe_config(REPO / "recipes/kws/kwt")
    assert config_problems(apply_overrides(kwt, ["frontend.hop_ms=10"])) == [
        "model.args.frames = 49: the front end makes 97 frames from 16000 samples"]


def test_unknown_keys_wrong_types_and_card_fields_are_errors():
    cfg = load_recipe_config(REPO / "recipes/vision/resnet8_cifar10")
    cfg["train"]["epoch"] = 3                     # a typo in the file itself
    cfg["card"]["title"] = 5
    cfg["export"]["targets"] = ["ethos-u99-1"]
    cfg["model"]["args"]["widht"] = 2
    with pytest.raises(ConfigError) as info:
        validate(cfg, "my.yaml")
    text = str(info.value)
    assert text.splitlines()[0] == "my.yaml has 4 invalid value(s):" and len(text.splitlines()) == 5
    assert "\n  train.epoch: unknown key (allowed here: augment, batch_size, distill, epochs, " in text
    assert "card.title = 5: must be a string" in text
    assert "export.targets[0] = 'ethos-u99-1': must be one of ethos-u55-32" in text
    assert "model.args.widht: unknown key (allowed here: filters, num_classes, tf_padding)" in text


def test_a_bad_quick_profile_is_reported():
    cfg = load_recipe_config(REPO / "recipes/vision/mobilenet_vww")
    cfg["quick"]["train.epochs"] = -1
    assert config_problems(cfg) == ["quick profile: train.epochs = -1: must be an integer >= 0"]


# --- 2. eval converts wrong audio and says so ----------------------------------------------------------------

def _wav(path: Path, samples, rate: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, rate, subtype="PCM_16")


def _odd_clips(root: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(3):
        _wav(root / "yes" / f"stereo{i}.wav", rng.uniform(-0.3, 0.3, (44100, 2)), 44100)
    _wav(root / "no" / "narrow.wav", rng.uniform(-0.3, 0.3, 8000), 8000)
    _wav(root / "up" / "long.wav", rng.uniform(-0.3, 0.3, 48000), 16000)
    _wav(root / "down" / "fine.wav", rng.uniform(-0.3, 0.3, 16000), 16000)
    (root / "go").mkdir()
    (root / "go" / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot audio")


def test_eval_set_resamples_downmixes_crops_and_names_unreadable_files(tmp_path):
    import soundfile
    from tinyzoo.common.data.speech_commands import kws_eval_set

    _odd_clips(tmp_path)
    said = []
    clips = kws_eval_set(tmp_path, LABELS, log=said.append)
    assert said[:4] == ["resampled 1 clip from 8000 Hz to 16000 Hz", "resampled 3 clips from 44100 Hz to 16000 Hz",
                        "downmixed 3 stereo clips to mono (mean of the channels)",
                        "cropped 1 clip longer than 1 s to the first 1 s"]
    assert said[4].startswith("skipped 1 unreadable WAV file (go/broken.wav; first error: ") and len(said) == 5
    assert clips.ids == ["down/fine.wav", "no/narrow.wav", "up/long.wav", "yes/stereo0.wav", "yes/stereo1.wav",
                         "yes/stereo2.wav"]
    assert clips.waveforms.shape == (6, 16000)
    # a clip in the model's format is read exactly as before
    fine = soundfile.read(tmp_path / "down" / "fine.wav", dtype="int16")[0]
    assert np.array_equal(clips.waveforms[0].numpy()[:len(fine)], fine[:16000])
    # the 8 kHz clip of 1 s fills the whole second once resampled (not half of it, as before)
    assert np.abs(clips.waveforms[1].numpy()[8000:]).max() > 1000


def test_a_folder_of_only_unreadable_wavs_is_one_line(capsys, tmp_path):
    (tmp_path / "yes").mkdir()
    (tmp_path / "yes" / "a.wav").write_bytes(b"")
    code, _, err = run(capsys, "eval", "kws/ds_cnn", "--data-root", tmp_path, "--target", "ethos-u55-128")
    assert code == 2
    assert f"none of the 1 WAV files under {tmp_path} could be read (first: yes/a.wav" in one_line_error(err)


def test_eval_cli_reports_conversions_on_stderr(capsys, tmp_path):
    _odd_clips(tmp_path)
    code, out, err = run(capsys, "eval", "kws/ds_cnn", "--data-root", tmp_path, "--target", "ethos-u55-128")
    assert code == 0, err
    assert "tinyzoo: resampled 3 clips from 44100 Hz to 16000 Hz" in err
    assert "tinyzoo: skipped 1 unreadable WAV file (go/broken.wav" in err
    assert out.startswith(f"kws/ds_cnn on 6 test samples from {tmp_path}")


# --- 3. eval on a user's folder reads all of it ----------------------------------------------------------------

def test_vww_folder_is_evaluated_whole(tmp_path):
    from tinyzoo.common import vision

    rng = np.random.default_rng(0)
    for k, name in enumerate(["non_person", "person"]):
        (tmp_path / name).mkdir()
        for i in range(10 + 5 * k):
            Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    cfg = registry.get("vision/mobilenet_vww").config
    said = []
    features, labels, _ = vision.eval_features(cfg, tmp_path, log=said.append)
    assert features.shape == (25, 3, 96, 96) and labels.tolist() == [0] * 10 + [1] * 15
    assert said == [f"read all 25 images under {tmp_path} (10 non_person, 15 person)"]
    # the build still tests on its hash split of the same folder
    assert len(vision.load(cfg, tmp_path, train=False, log=lambda *_: None).test) == 6
    (tmp_path / "person" / "broken.png").write_bytes(b"\x89PNG not an image")
    said.clear()
    assert len(vision.eval_features(cfg, tmp_path, log=said.append)[1]) == 25
    assert said[1].startswith("skipped 1 unreadable image (person/broken.png; first error: ")
    with pytest.raises(DatasetNotFoundError, match="cannot read the image .*broken.png"):
        vision.load(cfg, tmp_path, train=False, log=lambda *_: None)


# --- 4. artifacts are verified before eval / export load them -------------------------------------------------

@pytest.fixture
def published_copy(tmp_path, monkeypatch):
    """zoo/artifacts/kws/ds_cnn copied, and the registry pointed at the copy (the index stays the real one)."""
    root = tmp_path / "artifacts"
    shutil.copytree(REPO / "zoo" / "artifacts" / "kws" / "ds_cnn", root / "kws" / "ds_cnn")
    monkeypatch.setattr(registry, "ARTIFACTS", root)
    return root / "kws" / "ds_cnn"


def _flip_byte(path: Path, at: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_published_pte_is_refused(capsys, tmp_path, published_copy):
    _flip_byte(published_copy / "ethos-u55-128" / "model.pte")
    code, _, err = run(capsys, "eval", "kws/ds_cnn", "--data-root", tmp_path)
    line = one_line_error(err)
    assert code == 2 and "ethos-u55-128/model.pte does not match its SHA-256 in zoo/index.json" in line
    assert "git checkout -- " in line and "tinyzoo pull kws/ds_cnn --target ethos-u55-128" in line


def test_truncated_published_tosa_is_refused_before_data(capsys, tmp_path, published_copy):
    tosa = published_copy / "ethos-u85-256" / "model.tosa"
    tosa.write_bytes(tosa.read_bytes()[:1000])
    code, _, err = run(capsys, "eval", "kws/ds_cnn", "--data-root", tmp_path)   # an empty data root: never read
    assert code == 2 and "model.tosa has 1000 bytes instead of" in one_line_error(err)


@pytest.mark.parametrize("file, damage, message", [
    ("ethos-u55-128/model.tosa", lambda b: b[:len(b) // 2], "truncated or corrupt TOSA flatbuffer"),
    ("checkpoint.pt", lambda b: b[:len(b) - 5000], "not a complete torch archive"),
    ("model_int8.pt2", lambda b: b"", "is empty"),
    ("config.resolved.yaml", lambda b: b.replace(b"epochs: 40", b"epochs: -4"), "train.epochs = -4"),
])
def test_damaged_build_folder_is_one_line(capsys, tmp_path, file, damage, message):
    build = tmp_path / "build"
    shutil.copytree(REPO / "zoo" / "artifacts" / "kws" / "ds_cnn", build)
    (build / file).write_bytes(damage((build / file).read_bytes()))
    code, _, err = run(capsys, "eval", "kws/ds_cnn", "--artifacts", build, "--data-root", tmp_path,
                       "--target", "ethos-u55-128")
    line = one_line_error(err)
    assert code == 2 and str(build / file) in line and message in line
    assert "rebuild it (`tinyzoo build kws/ds_cnn --build-dir" in line


def test_export_checks_its_program_first(capsys, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(REPO / "zoo" / "artifacts" / "kws" / "ds_cnn", build)
    program = build / "model_int8.pt2"
    program.write_bytes(program.read_bytes()[:-100])
    code, _, err = run(capsys, "export", "kws/ds_cnn", "--artifacts", build, "--target", "ethos-u85-256",
                       "--out", tmp_path / "out")
    assert code == 2 and f"{program} is damaged (not a complete torch archive" in one_line_error(err)
    assert not (tmp_path / "out").exists()


def test_export_refuses_a_reference_input_of_the_wrong_size(capsys, tmp_path):
    """The golden input the export bundles into its .bpte must be the shape the metrics record."""
    build = tmp_path / "build"
    shutil.copytree(REPO / "zoo" / "artifacts" / "kws" / "ds_cnn", build)
    reference = build / "reference_input.bin"
    reference.write_bytes(reference.read_bytes()[:100])
    code, _, err = run(capsys, "export", "kws/ds_cnn", "--artifacts", build, "--target", "ethos-u85-256",
                       "--out", tmp_path / "out")
    assert code == 2 and (f"{reference} holds 100 int8 values, not the [1, 1, 49, 10] its metrics.json records"
                          in one_line_error(err))
    assert not (tmp_path / "out").exists()


def test_every_truncation_of_a_tosa_graph_is_caught():
    graph = (REPO / "zoo/artifacts/kws/ds_cnn/ethos-u55-128/model.tosa").read_bytes()
    assert verify_artifacts.tosa_problem(graph) is None
    body = len(graph.rstrip(b"\0"))     # after it only the last name's terminator and padding, which nothing reads
    cuts = sorted({*range(0, len(graph), 997), body - 1, body - 2})
    missed = [c for c in cuts if verify_artifacts.tosa_problem(graph[:c]) is None]
    assert missed == []


def test_unknown_eval_target_in_a_build_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(verify_artifacts, "check", lambda *a, **k: pytest.fail("checked files of no target"))
    code, _, err = run(capsys, "eval", "kws/ds_cnn", "--target", "ethos-u85-512", "--data-root", tmp_path)
    assert code == 2 and "no lowered graph for ethos-u85-512" in one_line_error(err)


# --- 5. card writes only the model it names, to cards/ only with --publish -------------------------------------

@pytest.fixture
def ds_cnn_metrics(tmp_path):
    path = tmp_path / "b" / "metrics.json"
    path.parent.mkdir()
    shutil.copyfile(REPO / "cards" / "kws__ds_cnn" / "metrics.json", path)
    return path


def test_card_refuses_another_models_metrics(capsys, ds_cnn_metrics):
    before = tree_digest(REPO / "cards", REPO / "README.md")
    code, _, err = run(capsys, "card", "kws/kwt", "--metrics", ds_cnn_metrics)
    assert code == 2
    assert f"{ds_cnn_metrics} holds the metrics of kws/ds_cnn, not kws/kwt" in one_line_error(err)
    assert tree_digest(REPO / "cards", REPO / "README.md") == before
    assert not (ds_cnn_metrics.parent / "card").exists()


def test_card_writes_a_preview_unless_published(capsys, ds_cnn_metrics, tmp_path):
    before = tree_digest(REPO / "cards", REPO / "README.md")
    code, out, err = run(capsys, "card", "kws/ds_cnn", "--metrics", ds_cnn_metrics)
    assert code == 0, err
    preview = ds_cnn_metrics.parent / "card" / "kws__ds_cnn.md"
    assert out.startswith(f"card (preview): {preview}") and preview.exists()
    assert tree_digest(REPO / "cards", REPO / "README.md") == before
    code, out, _ = run(capsys, "card", "kws/ds_cnn", "--metrics", ds_cnn_metrics, "--out", tmp_path / "o")
    assert code == 0 and (tmp_path / "o" / "kws__ds_cnn.md").exists()


def test_card_publish_writes_only_its_model(capsys, ds_cnn_metrics, tmp_path, monkeypatch):
    shutil.copytree(REPO / "cards", tmp_path / "repo" / "cards")
    shutil.copyfile(REPO / "README.md", tmp_path / "repo" / "README.md")
    monkeypatch.setattr(layout, "REPO", tmp_path / "repo")
    others = tree_digest(*[p for p in (tmp_path / "repo" / "cards").iterdir() if "kws__ds_cnn" not in p.name])
    metrics = json.loads(ds_cnn_metrics.read_text())
    metrics["summary"] = "A changed summary."
    ds_cnn_metrics.write_text(json.dumps(metrics))
    code, out, err = run(capsys, "card", "kws/ds_cnn", "--metrics", ds_cnn_metrics, "--publish")
    assert code == 0, err
    assert "A changed summary." in (tmp_path / "repo" / "cards" / "kws__ds_cnn.md").read_text()
    assert tree_digest(*[p for p in (tmp_path / "repo" / "cards").iterdir() if "kws__ds_cnn" not in p.name]) == others


def test_incomplete_metrics_write_nothing(capsys, tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"model": "kws/ds_cnn"}))
    code, _, err = run(capsys, "card", "kws/ds_cnn", "--metrics", path)
    assert code == 2 and f"{path} is not a complete build's metrics" in one_line_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
    path.write_text("{ not json")
    code, _, err = run(capsys, "card", "kws/ds_cnn", "--metrics", path)
    assert code == 2 and f"{path} is not valid JSON" in one_line_error(err)


def test_publish_puts_a_finished_build_in_the_catalogue_and_refuses_a_broken_one(capsys, tmp_path, monkeypatch):
    """`tinyzoo publish BUILD_DIR`: a build whose .pte is not the one its metrics describe writes nothing; a whole
    one lands in zoo/artifacts/<model>, cards/ and the README table."""
    from tinyzoo.common import pipeline

    build = tmp_path / "build"
    shutil.copytree(REPO / "zoo" / "artifacts" / "kws" / "ds_cnn", build)
    shutil.copyfile(REPO / "cards" / "kws__ds_cnn" / "metrics.json", build / "metrics.json")
    shutil.copytree(REPO / "cards", tmp_path / "repo" / "cards")
    shutil.copyfile(REPO / "README.md", tmp_path / "repo" / "README.md")
    monkeypatch.setattr(layout, "REPO", tmp_path / "repo")
    monkeypatch.setattr(pipeline, "ARTIFACTS", tmp_path / "artifacts")
    pte = build / "ethos-u55-128" / "model.pte"
    whole = pte.read_bytes()
    pte.write_bytes(whole[:-10])
    before = tree_digest(tmp_path / "repo")
    code, _, err = run(capsys, "publish", build)
    assert code == 2 and f"{pte} is not the file metrics.json describes" in one_line_error(err)
    assert tree_digest(tmp_path / "repo") == before and not (tmp_path / "artifacts").exists()
    pte.write_bytes(whole)
    # another published card whose metrics no longer render: named, and still nothing written
    other = tmp_path / "repo" / "cards" / "kws__kwt" / "metrics.json"
    kept = other.read_text()
    other.write_text(json.dumps({"model": "kws/kwt"}))
    before = tree_digest(tmp_path / "repo")
    code, _, err = run(capsys, "publish", build)
    assert code == 2 and f"{other} is not a complete build's metrics" in one_line_error(err)
    assert tree_digest(tmp_path / "repo") == before and not (tmp_path / "artifacts").exists()
    other.write_text(kept)
    code, out, err = run(capsys, "publish", build)
    assert code == 0, err
    published = tmp_path / "artifacts" / "kws" / "ds_cnn"
    assert (published / "ethos-u55-128" / "model.pte").read_bytes() == whole
    assert ((tmp_path / "repo" / "cards" / "kws__ds_cnn.md").read_text()
            == (REPO / "cards" / "kws__ds_cnn.md").read_text())
    assert "tinyzoo index" in out


# --- 6. downloads ---------------------------------------------------------------------------------------------

FILES = {"checkpoint.pt": b"float weights" * 100, "ethos-u55-128/model.pte": b"PTE" * 1000}


@pytest.fixture
def index():
    def entry(rel):
        return {"path": rel, "size": len(FILES[rel]), "sha256": hashlib.sha256(FILES[rel]).hexdigest()}
    return {"format": 1, "models": {"kws/ds_cnn": {
        "hub": {"repo_id": "tinyzoo/kws-ds_cnn", "repo_type": "model", "revision": "0" * 40},
        "files": {"checkpoint.pt": entry("checkpoint.pt")},
        "targets": {"ethos-u55-128": {"files": {"model.pte": entry("ethos-u55-128/model.pte")}}}}}}


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYZOO_MIRROR", raising=False)
    for rel, data in FILES.items():
        (tmp_path / "mirror" / "kws/ds_cnn" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "mirror" / "kws/ds_cnn" / rel).write_bytes(data)
    return tmp_path / "mirror"


def test_corrupt_mirror_file_is_named_and_left_alone(index, mirror):
    bad = mirror / "kws/ds_cnn/ethos-u55-128/model.pte"
    bad.write_bytes(b"X" + FILES["ethos-u55-128/model.pte"][1:])
    with pytest.raises(hub.ArtifactError) as info:
        hub.pull("kws/ds_cnn", "ethos-u55-128", source=str(mirror), index=index)
    message = str(info.value)
    assert message.startswith(f"{bad}: SHA-256") and f"the mirror {mirror} is corrupt" in message
    assert "deleted" not in message and "pull again" not in message
    assert bad.read_bytes()[:1] == b"X"                                  # the mirror is not touched
    assert not any(p.is_file() for p in (hub.cache_dir() / "kws/ds_cnn/ethos-u55-128").rglob("*"))


def test_stale_partial_downloads_are_cleaned_and_files_get_normal_permissions(index, mirror):
    folder = hub.cache_dir() / "kws/ds_cnn/ethos-u55-128"
    folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = [folder / f"model.pte.{dead}.part", folder / "tmpab12cd.part"]
    live = folder / f"model.tosa.{os.getpid()}.part"          # a pull running now (this process)
    for p in (*stale, live):
        p.write_bytes(b"half")
    old = os.umask(0o022)
    try:
        pte = hub.pull("kws/ds_cnn", "ethos-u55-128", source=mirror.as_uri(), index=index)   # a file:// source
    finally:
        os.umask(old)
    assert pte.read_bytes() == FILES["ethos-u55-128/model.pte"]
    assert not any(p.exists() for p in stale) and live.exists()
    assert oct(pte.stat().st_mode & 0o777) == "0o644"
    assert oct((pte.parent.parent / "checkpoint.pt").stat().st_mode & 0o777) == "0o644"


def test_an_unwritable_cache_is_one_line(index, mirror, tmp_path, monkeypatch, capsys):
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    monkeypatch.setenv("TINYZOO_CACHE", str(tmp_path / "blocked"))
    monkeypatch.setattr(hub, "load_index", lambda *a, **k: index)
    code, _, err = run(capsys, "pull", "kws/ds_cnn", "--source", mirror)
    assert code == 2 and "cannot write " in one_line_error(err) and "set TINYZOO_CACHE" in err


def test_pull_suggests_only_real_targets(index, mirror):
    with pytest.raises(hub.UnknownTargetError) as info:
        hub.files_for("kws/ds_cnn", "ethos-u99-1", index)
    assert "unknown target 'ethos-u99-1'" in str(info.value) and "tinyzoo export" not in str(info.value)
    with pytest.raises(hub.UnknownTargetError, match="tinyzoo export kws/ds_cnn --target ethos-u85-256"):
        hub.files_for("kws/ds_cnn", "ethos-u85-256", index)


# --- 7. Ctrl-C, broken pipe, data root, early checks, help, version, unknown model ----------------------------

def test_ctrl_c_is_one_line_and_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(list_command, "run", interrupted)
    code, _, err = run(capsys, "list")
    assert code == 130 and err.strip() == "tinyzoo: interrupted"


def test_broken_pipe_prints_no_traceback(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)                             # the reader (e.g. `head -1`) has gone
    try:
        proc = subprocess.run([sys.executable, "-m", "tinyzoo", "info", "kws/ds_cnn", "--json"], cwd=REPO,
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == ""


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    def bug(args):
        raise ValueError("boom")
    monkeypatch.setattr(list_command, "run", bug)
    code, _, err = run(capsys, "list")
    assert code == 1 and "unexpected ValueError: boom" in one_line_error(err) and "--debug" in err
    with pytest.raises(ValueError):
        cli.main(["list", "--debug"])
    monkeypatch.setenv("TINYZOO_DEBUG", "1")
    with pytest.raises(UnknownModelError):
        cli.main(["info", "kws/nope"])


def test_data_uses_tinyzoo_data(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYZOO_DATA", str(tmp_path / "mine"))
    code, _, err = run(capsys, "data", "speech_commands")
    assert code == 2 and str(tmp_path / "mine") in one_line_error(err)


@pytest.mark.parametrize("argv, message", [
    (["build", "kws/ds_cnn", "--target", "ethos-u99-1"], "unknown target 'ethos-u99-1'"),
    (["build", "vision/resnet8_cifar10", "--data-root", "/no/such/dir"],
     "data root /no/such/dir (from --data-root) "
     "does not exist; get it with `tinyzoo data cifar10 --download"),
    (["build", "vision/resnet8_cifar10"], "no data root: cifar10 data is not bundled"),
    (["build", "kws/ds_cnn", "--epochs", "3"],
     "unrecognized arguments: --epochs 3 (see `tinyzoo build kws/ds_cnn --help`)"),
    (["eval", "kws/ds_cnn", "--target", "ethos-u99-1"], "unknown target 'ethos-u99-1'"),
    (["eval", "vision/mobilenet_vww", "--data-root", "/no/such/dir"], "data root /no/such/dir"),
    (["export", "kws/ds_cnn", "--target", "ethos-u99-1"], "unknown target 'ethos-u99-1'"),
])
def test_arguments_are_checked_before_anything_heavy(capsys, monkeypatch, argv, message):
    monkeypatch.setattr(pipeline, "build", lambda *a, **k: pytest.fail("the build must not start"))
    monkeypatch.setattr(verify_artifacts, "check", lambda *a, **k: pytest.fail("artifacts must not be read"))
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in one_line_error(err)


def test_build_help_lists_the_models(capsys):
    code, out, _ = run(capsys, "build", "--help")
    assert code == 0 and out.startswith("usage: tinyzoo build MODEL")
    assert all(f"  {name}" in out for name in registry.list_models())
    code, _, err = run(capsys, "build")
    assert code == 2 and "build needs a model" in one_line_error(err) and "kws/kwt" in err
    code, _, err = run(capsys, "eval")
    assert code == 2 and ("required: model; models: anomaly/ad_autoencoder, anomaly/ad_autoencoder.mlperf, "
                          "kws/ds_cnn" in one_line_error(err))


def test_version(capsys):
    import tomllib

    code, out, _ = run(capsys, "--version")
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert code == 0 and out.strip() == f"tinyzoo {version}"


@pytest.mark.parametrize("command", ["info", "eval", "export", "card", "pull", "build"])
def test_unknown_model_lists_the_models(capsys, command):
    argv = [command, "kws/nope"] + (["--target", "ethos-u55-128"] if command == "export" else [])
    code, _, err = run(capsys, *argv)
    line = one_line_error(err)
    assert code == 2 and "unknown model 'kws/nope'" in line and ", ".join(registry.list_models()) in line


def test_a_checkpoint_of_another_model_does_not_load(capsys, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(REPO / "zoo" / "artifacts" / "kws" / "ds_cnn", build)
    shutil.copyfile(REPO / "zoo" / "artifacts" / "kws" / "kwt" / "checkpoint.pt", build / "checkpoint.pt")
    code, _, err = run(capsys, "eval", "kws/ds_cnn", "--artifacts", build, "--data-root", tmp_path,
                       "--target", "ethos-u55-128")
    line = one_line_error(err)
    assert code == 2 and f"{build / 'checkpoint.pt'} does not load (RuntimeError: Error(s) in loading" in line


def test_a_program_that_does_not_load_is_one_line_in_a_fresh_process(tmp_path):
    """An intact archive that is no exported program (here: a checkpoint under the program's name)."""
    build = tmp_path / "build"
    shutil.copytree(REPO / "zoo" / "artifacts" / "kws" / "ds_cnn", build)
    shutil.copyfile(build / "checkpoint.pt", build / "model_int8.pt2")
    done = subprocess.run([sys.executable, "-m", "tinyzoo", "export", "kws/ds_cnn", "--artifacts", str(build),
                           "--target", "ethos-u85-256", "--out", str(tmp_path / "out")], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"tinyzoo: error: {build / 'model_int8.pt2'} does not load (" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_build_folder_of_another_model_is_refused(capsys, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(REPO / "zoo" / "artifacts" / "kws" / "kwt", build)
    code, _, err = run(capsys, "eval", "kws/ds_cnn", "--artifacts", build, "--data-root", tmp_path,
                       "--target", "ethos-u55-128")
    assert code == 2 and f"{build} is a build of kws/kwt, not kws/ds_cnn" in one_line_error(err)


def test_deploy_names_the_users_own_mistakes(capsys, tmp_path, monkeypatch):
    """A factory that raises, calibration data with a NaN, --out naming a file: each is the user's, one line, exit
    2, nothing written (issue 25)."""
    from tinyzoo.common import deploy as deploy_module

    model_file = tmp_path / "net.py"
    model_file.write_text("import torch\n\ndef broken():\n    raise RuntimeError('my factory is broken')\n\n"
                          "def ok():\n    return torch.nn.Linear(4, 2)\n")
    common = ["--input-shape", "1,4", "--target", "ethos-u55-128", "--out", tmp_path / "out"]
    code, _, err = run(capsys, "deploy", f"{model_file}:broken", *common)
    assert code == 2 and f"{model_file}:broken() raised RuntimeError: my factory is broken" in one_line_error(err)

    calibration = tmp_path / "calib.npy"
    np.save(calibration, np.array([[0.0, np.nan, 1.0, 2.0]], dtype=np.float32))
    code, _, err = run(capsys, "deploy", f"{model_file}:ok", *common, "--calibration", calibration)
    assert code == 2 and f"{calibration}: input 0 holds 1 NaN or infinite value(s)" in one_line_error(err)

    taken = tmp_path / "taken.txt"
    taken.write_text("mine")
    monkeypatch.setattr(deploy_module, "load_model", lambda spec: pytest.fail("checked before loading the model"))
    code, _, err = run(capsys, "deploy", f"{model_file}:ok", "--input-shape", "1,4", "--target", "ethos-u55-128",
                       "--out", taken)
    assert code == 2 and f"--out {taken} is a file" in one_line_error(err) and taken.read_text() == "mine"
    assert not (tmp_path / "out").exists()


def test_deploy_refuses_a_dict_output_and_survives_a_constant_one(capsys, tmp_path):
    """A model returning a dict is named (a program returns tensors); a model whose output is constant (SQNR
    undefined) still gets its card, with no SQNR in its metadata (issue 25)."""
    model_file = tmp_path / "net.py"
    model_file.write_text(
        "import torch\n\n"
        "class Dict(torch.nn.Module):\n    def forward(self, x):\n        return {'y': x * 2}\n\n"
        "class Constant(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = torch.nn.Linear(4, 2)\n"
        "    def forward(self, x):\n        return self.fc(x) * 0 + 1\n\n"
        "def as_dict():\n    return Dict()\n\ndef constant():\n    return Constant()\n")
    common = ["--input-shape", "1,4", "--target", "ethos-u55-128"]
    code, _, err = run(capsys, "deploy", f"{model_file}:as_dict", *common, "--out", tmp_path / "a")
    assert code == 2 and "the model returns dict; a deployed program returns tensors" in one_line_error(err)
    assert not (tmp_path / "a").exists()
    code, _, err = run(capsys, "deploy", f"{model_file}:constant", *common, "--out", tmp_path / "b")
    assert code == 0, err
    assert list((tmp_path / "b" / "card").glob("*.md"))


def test_one_build_at_a_time_in_a_build_folder(tmp_path):
    """A second build into a folder in use is refused naming the first one's pid; a lock a killed build left is
    said and cleared; the lock goes when the build ends (issue 25)."""
    import os

    from tinyzoo.common.errors import ConfigError
    from tinyzoo.common.recipe import LOCK_FILE, build_lock

    said = []
    with build_lock(tmp_path, log=said.append):
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
        with pytest.raises(ConfigError, match=rf"in use by another build \(pid {os.getpid()}\)"):
            with build_lock(tmp_path):
                pass
    assert not (tmp_path / LOCK_FILE).exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / LOCK_FILE).write_text(dead + "\n")
    with build_lock(tmp_path, log=said.append):
        assert said and f"(pid {dead}): cleared" in said[-1]


def test_a_speech_commands_root_names_unreadable_missing_and_converted_clips(tmp_path):
    """In a Speech Commands data root (not only a plain folder): a corrupt or zero-byte WAV is skipped and named, a
    clip its testing_list.txt lists but the folder lacks is said, a 44.1 kHz stereo clip is converted and said."""
    import logging

    from tinyzoo.common.data.speech_commands import kws_eval_set

    folder = tmp_path / "SpeechCommands" / "speech_commands_v0.02"
    for word in ("yes", "no"):
        (folder / word).mkdir(parents=True)
    tone = (0.3 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440)).astype(np.float32)
    soundfile.write(folder / "yes" / "a.wav", tone, 16000, subtype="PCM_16")
    soundfile.write(folder / "no" / "b.wav", np.stack([tone, tone], 1).repeat(3, 0)[:44100], 44100,
                    subtype="PCM_16")
    (folder / "no" / "empty.wav").write_bytes(b"")
    (folder / "testing_list.txt").write_text("yes/a.wav\nno/b.wav\nno/empty.wav\nyes/gone.wav\n")
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("tinyzoo.common.data.speech_commands")
    logger.addHandler(handler)
    try:
        clips = kws_eval_set(tmp_path, LABELS)
    finally:
        logger.removeHandler(handler)
    said = "\n".join(r.getMessage() for r in records)
    assert clips.ids == ["no/b.wav", "yes/a.wav"]
    assert "1 clip(s) listed in testing_list.txt are not there (first: yes/gone.wav)" in said
    assert "resampled 1 clip from 44100 Hz to 16000 Hz" in said and "downmixed 1 stereo clip to mono" in said
    assert "skipped 1 unreadable WAV file (no/empty.wav; first error: " in said


def test_a_build_folder_proves_its_files_with_its_record(tmp_path, capsys):
    """A build writes build_record.json (size and SHA-256 of every model file); `tinyzoo eval --artifacts` checks the
    files it uses against it: a .pte with four bytes overwritten (same size, still a flatbuffer) is refused by
    name, and a removed recorded file too."""
    from tinyzoo.common import build_record

    build = tmp_path / "build"
    shutil.copytree(REPO / "zoo" / "artifacts" / "kws" / "ds_cnn.mlperf", build)
    record = build_record.write(build)
    files = json.loads(record.read_text())["files"]
    assert {"checkpoint.pt", "model_int8.pt2", "ethos-u55-128/model.pte", "ethos-u55-128/model.tosa"} <= set(files)
    assert build_record.check(build, list(files)) is True
    pte = build / "ethos-u55-128" / "model.pte"
    data = bytearray(pte.read_bytes())
    data[-8:-4] = bytes(4)
    pte.write_bytes(bytes(data))
    code, _, err = run(capsys, "eval", "kws/ds_cnn.mlperf", "--artifacts", build, "--target", "ethos-u55-128")
    assert code == 2 and f"{pte} is not the file the build wrote" in one_line_error(err)
    (build / "ethos-u55-128" / "model.tosa").unlink()
    with pytest.raises(ArtifactError, match="was written by the build"):
        build_record.check(build, ["ethos-u55-128/model.tosa"])
    (build / build_record.RECORD).unlink()
    assert build_record.check(build, ["checkpoint.pt"]) is False
