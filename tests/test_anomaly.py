"""Anomaly detection (common/anomaly.py, recipes/anomaly/ad_autoencoder): the MLPerf AD front end against a float64
NumPy reimplementation of librosa 0.6's (mel filterbank included), AUC and pAUC as sklearn computes them, the DCASE
2020 Task 2 reader and its errors on a synthetic set the test writes, the anomaly score, and the autoencoder (its
size, and Keras Dense + batch norm weights on a small .h5 the test writes)."""
import re

import numpy as np
import pytest
import soundfile
import torch
from tinyzoo.common import anomaly as ad
from tinyzoo.common.errors import DatasetNotFoundError, TinyzooError
from torch import nn


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """3 training clips and 3 + 3 test clips for each of machine ids 1 and 2 (10 s each)."""
    return ad.write_synthetic_toycar(tmp_path_factory.mktemp("toyadmos"), train_per_id=3, test_per_id=3)


# --- front end -----------------------------------------------------------------------------------------------------

def librosa06_mel(sr=16000, n_fft=1024, n_mels=128, fmin=0.0, fmax=None) -> np.ndarray:
    """librosa 0.6's `filters.mel` (htk=False, norm=1) in float64: Slaney mel scale (200/3 Hz per mel below 1 kHz,
    logarithmic above), triangles in Hz between band edges equally spaced in mel, Slaney area normalization."""
    fmax = sr / 2 if fmax is None else fmax
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp

    def hz_to_mel(f):
        return f / f_sp if f < min_log_hz else min_log_mel + np.log(f / min_log_hz) / logstep

    def mel_to_hz(m):
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff, ramps = np.diff(mel_f), np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, fftfreqs.size))
    for i in range(n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return weights * enorm[:, None]


def reference_windows(audio: np.ndarray, n_fft=1024, hop=512, first=50, frames=200, context=5) -> np.ndarray:
    """The baseline's `file_to_vector_array` in float64: centred reflect-padded STFT with a periodic Hann window,
    power, mel, 10 log10(mel + eps), frames 50..249, 5-frame windows frame-major."""
    padded = np.pad(audio.astype(np.float64), n_fft // 2, mode="reflect")
    count = 1 + audio.size // hop
    stft = np.fft.rfft(np.stack([padded[i * hop:i * hop + n_fft] for i in range(count)])
                       * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)), axis=1)
    db = 10 * np.log10(np.abs(stft) ** 2 @ librosa06_mel(n_fft=n_fft).T + 2.220446049250313e-16)
    kept = db[first:first + frames]
    return np.stack([kept[t:t + context].reshape(-1) for t in range(frames - context + 1)])


def test_the_mel_filterbank_is_librosa_06s():
    fb = ad.LogMelWindows().mel.mel_scale.fb.numpy().T.astype(np.float64)    # (n_mels, n_freqs)
    expected = librosa06_mel()
    assert fb.shape == expected.shape == (128, 513)
    assert np.abs(fb - expected).max() < 1e-5 * expected.max()   # torchaudio computes the band edges in float32
    assert (np.count_nonzero(fb, axis=1) > 0).all()


def test_front_end_matches_a_float64_reference(synthetic):
    paths = ad.dcase_test_clips(synthetic).paths[:2]
    audio = torch.stack([ad.read_clip(path) for path in paths])             # (2, 160000)
    frontend = ad.LogMelWindows()
    batch = frontend(audio)
    assert batch.shape == (2, 196, 640) and batch.dtype == torch.float32
    for clip, windows in zip(audio, batch):
        expected = reference_windows(clip.numpy())
        assert np.abs(windows.numpy() - expected).max() < 1e-3                     # dB
        assert torch.allclose(frontend(clip), windows, atol=1e-4)                  # one clip = a batch of one
    # frame-major: window t+1 starts with window t's second frame
    assert torch.equal(batch[0, 1, :512], batch[0, 0, 128:])


def test_a_clip_too_short_is_refused_by_its_length():
    frontend = ad.LogMelWindows()
    assert frontend.min_samples == 127_488 and frontend(torch.zeros(127_488)).shape == (196, 640)
    with pytest.raises(TinyzooError, match=r"a clip of 127487 samples \(7.97 s\) gives 249 frames; the AD front "
                                           r"end needs 250 \(at least 127488 samples"):
        frontend(torch.zeros(127_487))


# --- AUC and pAUC ----------------------------------------------------------------------------------------------

def test_auc_and_pauc_on_hand_computed_cases():
    assert ad.roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    # ties count a half: pairs (pos 1, neg 1) 0.5, (1, 2) 0, (2, 1) 1, (2, 2) 0.5
    assert ad.roc_auc([1, 1, 2, 2], [0, 1, 0, 1]) == pytest.approx(0.5)
    assert ad.roc_auc([3, 2, 1], [1, 0, 0]) == 1.0 and ad.partial_auc([3, 2, 1], [1, 0, 0]) == 1.0
    # all wrong: no area below FPR 0.1, McClish maps it to 0.5 (1 - 0.005 / 0.095)
    assert ad.roc_auc([1, 2, 3], [1, 0, 0]) == 0.0
    assert ad.partial_auc([1, 2, 3], [1, 0, 0]) == pytest.approx(0.5 * (1 - 0.005 / 0.095))
    # 10 normal, 2 anomalous: one anomaly on top, one below the highest normal clip. The curve is at TPR 0.5 up to
    # FPR 0.1: area 0.05 -> 0.5 (1 + 0.045 / 0.095)
    labels = [1, 0, 1] + [0] * 9
    scores = [1.0, 0.9, 0.8] + [0.1] * 9
    assert ad.roc_auc(scores, labels) == pytest.approx(19 / 20)
    assert ad.partial_auc(scores, labels) == pytest.approx(0.5 * (1 + 0.045 / 0.095))
    # a tie across FPR 0.1: one anomaly tied with two normal clips, the curve from (0, 0.5) to (0.2, 1) is cut at
    # (0.1, 0.75): area 0.0625; AUC = (10 + 8 + 2 x 0.5) / 20
    scores = [1.0, 0.5, 0.5, 0.5] + [0.0] * 8
    labels = [1, 1, 0, 0] + [0] * 8
    assert ad.roc_auc(scores, labels) == pytest.approx(0.95)
    assert ad.partial_auc(scores, labels) == pytest.approx(0.5 * (1 + 0.0575 / 0.095))
    assert ad.partial_auc(scores, labels, max_fpr=1.0) == pytest.approx(0.95)


def test_auc_and_pauc_equal_sklearns():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for trial in range(20):
        labels = rng.permutation(np.r_[np.zeros(rng.integers(2, 30)), np.ones(rng.integers(2, 30))]).astype(int)
        scores = rng.integers(0, 6, labels.size) if trial % 2 else rng.normal(size=labels.size)   # ties or none
        assert ad.roc_auc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores), abs=1e-12)
        for max_fpr in (0.1, 0.3):
            assert ad.partial_auc(scores, labels, max_fpr) == pytest.approx(
                metrics.roc_auc_score(labels, scores, max_fpr=max_fpr), abs=1e-12)


def test_auc_by_machine_averages_over_ids():
    scores = [0.9, 0.1, 0.2, 0.8, 0.3, 0.7]
    labels = [1, 0, 0, 1, 1, 0]
    ids = ["id_01", "id_01", "id_01", "id_02", "id_02", "id_02"]
    result = ad.auc_by_machine(scores, labels, ids)
    assert result["per_machine"]["id_01"]["auc"] == 1.0
    assert result["per_machine"]["id_02"]["auc"] == pytest.approx(0.5)
    assert result["auc"] == pytest.approx(0.75)
    assert result["pauc"] == pytest.approx(np.mean([m["pauc"] for m in result["per_machine"].values()]))
    with pytest.raises(TinyzooError, match="machine id_03: its test clips are all normal"):
        ad.auc_by_machine(scores + [0.5], labels + [0], ids + ["id_03"])
    with pytest.raises(TinyzooError, match="needs both normal"):
        ad.roc_auc([0.1, 0.2], [0, 0])


# --- DCASE clips -------------------------------------------------------------------------------------------------

def test_the_reader_finds_the_clips_from_any_of_three_roots(synthetic):
    train = ad.dcase_train_clips(synthetic)
    assert len(train.paths) == 6 and train.machine_ids == ["id_01"] * 3 + ["id_02"] * 3
    test = ad.dcase_test_clips(synthetic)
    assert len(test.paths) == 12 and sum(test.labels) == 6
    assert all(label == int(path.name.startswith("anomaly")) for path, label in zip(test.paths, test.labels))
    assert sorted(set(test.machine_ids)) == ["id_01", "id_02"] and test.machine_ids.count("id_02") == 6
    for root in (synthetic / "dev_data", synthetic / "dev_data" / "ToyCar"):
        assert ad.dcase_test_clips(root) == test and ad.dcase_train_clips(root) == train
    info = soundfile.info(str(test.paths[0]))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (16000, 1, "PCM_16", 160000)


def test_a_missing_folder_names_what_was_looked_for(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        ad.dcase_train_clips(tmp_path)
    message = str(err.value)
    assert "\n" not in message and message.startswith("no ToyCar train clips: none of")
    assert str(tmp_path / "dev_data" / "ToyCar" / "train") in message and "dev_data_ToyCar.zip" in message
    (tmp_path / "test").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no .wav files in"):
        ad.dcase_test_clips(tmp_path)


def test_unreadable_foreign_or_misplaced_files_are_errors_naming_them(synthetic, tmp_path):
    good = ad.dcase_test_clips(synthetic).paths[0]
    test = tmp_path / "ToyCar" / "test"
    test.mkdir(parents=True)
    (test / good.name).write_bytes(good.read_bytes())
    corrupt = test / "anomaly_id_01_00000099.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    with pytest.raises(TinyzooError, match=f"{re.escape(str(corrupt))}: not a readable sound file"):
        ad.dcase_test_clips(tmp_path)
    with pytest.raises(TinyzooError, match=f"{re.escape(str(corrupt))}: not a readable sound file"):
        ad.read_clip(corrupt)
    corrupt.unlink()
    slow = test / "normal_id_01_00000098.wav"
    soundfile.write(slow, np.zeros(800, np.int16), 8000, subtype="PCM_16")
    with pytest.raises(TinyzooError, match=f"{re.escape(str(slow))}: sample rate 8000 Hz, the AD front end takes "
                                           f"16000 Hz"):
        ad.dcase_test_clips(tmp_path)
    with pytest.raises(TinyzooError, match="sample rate 8000 Hz"):
        ad.read_clip(slow)
    slow.rename(test / "recording.wav")
    with pytest.raises(TinyzooError, match="recording.wav: not a DCASE clip name"):
        ad.dcase_test_clips(tmp_path)
    train = tmp_path / "ToyCar" / "train"
    train.mkdir()
    (train / "anomaly_id_01_00000000.wav").write_bytes(good.read_bytes())
    with pytest.raises(TinyzooError, match="an anomaly clip among the training clips"):
        ad.dcase_train_clips(tmp_path)


def test_read_clip_averages_channels(tmp_path):
    stereo = np.stack([np.full(100, 0.5), np.full(100, -0.25)], axis=1)
    soundfile.write(tmp_path / "s.wav", stereo, 16000, subtype="FLOAT")
    clip = ad.read_clip(tmp_path / "s.wav")
    assert clip.shape == (100,) and clip.dtype == torch.float32 and torch.allclose(clip, torch.full((100,), 0.125))
    with pytest.raises(DatasetNotFoundError, match="no such file"):
        ad.read_clip(tmp_path / "missing.wav")


def test_the_synthetic_set_is_deterministic(tmp_path):
    small = dict(train_per_id=1, test_per_id=1, ids=(3,), seconds=1.0)
    a, b, c = (ad.write_synthetic_toycar(tmp_path / name, seed=seed, **small) for name, seed in
               (("a", 0), ("b", 0), ("c", 1)))
    files = sorted(p.relative_to(a) for p in a.rglob("*.wav"))
    assert [str(f) for f in files] == ["dev_data/ToyCar/test/anomaly_id_03_00000000.wav",
                                       "dev_data/ToyCar/test/normal_id_03_00000000.wav",
                                       "dev_data/ToyCar/train/normal_id_03_00000000.wav"]
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert all((a / f).read_bytes() != (c / f).read_bytes() for f in files)


# --- score and model -------------------------------------------------------------------------------------------

def test_clip_scores_are_the_mean_window_mse_in_any_batching():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 6))
    clips = [torch.randn(5, 6), torch.randn(2, 6), torch.randn(7, 6)]
    model.eval()
    with torch.no_grad():
        expected = torch.stack([((model(c) - c) ** 2).mean() for c in clips])   # equal windows: mean of means
    model.train()
    for batch_size in (1, 3, 100):
        assert torch.allclose(ad.clip_scores(model, clips, batch_size=batch_size), expected, atol=1e-6)
    assert model.training                                                      # its mode is restored
    stacked = torch.randn(3, 4, 6)
    with torch.no_grad():
        reconstruction = model.eval()(stacked.reshape(-1, 6)).reshape(3, 4, 6)
    assert torch.allclose(ad.clip_scores(model, stacked), ((reconstruction - stacked) ** 2).mean((1, 2)))


def test_the_autoencoder_has_mlperfs_size():
    from tinyzoo.common.builders import get_builder

    model = get_builder("anomaly/ad_autoencoder")().eval()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 10 and sum(isinstance(m, nn.BatchNorm1d) for m in model.modules()) == 9
    assert [(m.in_features, m.out_features) for m in linears] == \
        [(640, 128)] + [(128, 128)] * 3 + [(128, 8), (8, 128)] + [(128, 128)] * 3 + [(128, 640)]
    # with batch norm folded, the parameters are the Linear layers' weights and biases (SOURCE.md: 265,864)
    folded = 640 * 128 + 128 + 3 * (128 * 128 + 128) + 128 * 8 + 8 + 8 * 128 + 128 + 3 * (128 * 128 + 128) \
        + 128 * 640 + 640
    assert folded == 265_864 == sum(m.weight.numel() + m.bias.numel() for m in linears)
    assert model(torch.randn(3, 640)).shape == (3, 640)


def test_keras_dense_and_batch_norm_weights_give_the_keras_outputs(tmp_path):
    """A Keras Dense + BatchNormalization stack (the shape of MLPerf's ad01.h5) mapped onto the autoencoder: Dense
    biases stay in the Linear layers, Keras' epsilon (1e-3) goes into the running variance."""
    from tinyzoo.common.builders import get_builder
    from tinyzoo.common.keras_compat import keras_state_dict, read_h5

    from tests.test_mlperf import write_keras_h5

    rng = np.random.default_rng(0)
    widths = [6, 5, 2, 5, 6]                      # inputs 6, hidden 5, bottleneck 2, layers 1
    layers, weights, previous = [("InputLayer", "input_1", {}, {}, [])], [], "input_1"
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        dense = {"kernel": rng.normal(0, 0.5, (a, b)), "bias": rng.normal(0, 0.5, b)}
        layers.append(("Dense", f"dense_{i}", {"units": b}, dense, [previous]))
        previous, norm = f"dense_{i}", None
        if i < len(widths) - 2:
            norm = {"gamma": rng.uniform(0.5, 1.5, b), "beta": rng.normal(0, 0.1, b),
                    "moving_mean": rng.normal(0, 0.3, b), "moving_variance": rng.uniform(1e-4, 2e-3, b)}
            layers += [("BatchNormalization", f"bn_{i}", {"epsilon": 1e-3}, norm, [previous]),
                       ("Activation", f"relu_{i}", {"activation": "relu"}, {}, [f"bn_{i}"])]
            previous = f"relu_{i}"
        weights.append((dense, norm))
    write_keras_h5(tmp_path / "ad.h5", layers)

    x = rng.normal(size=(4, 6))
    y = x
    for dense, norm in weights:                   # Keras' computation, float64
        y = y @ dense["kernel"] + dense["bias"]
        if norm is not None:
            y = norm["gamma"] * (y - norm["moving_mean"]) / np.sqrt(norm["moving_variance"] + 1e-3) + norm["beta"]
            y = np.maximum(y, 0)
    model = get_builder("anomaly/ad_autoencoder")(inputs=6, hidden=5, bottleneck=2, layers=1).eval()
    model.load_state_dict(keras_state_dict(read_h5(tmp_path / "ad.h5"), model))
    with torch.no_grad():
        out = model(torch.from_numpy(x).float()).numpy()
    assert np.abs(out - y).max() < 1e-5 * np.abs(y).max()     # variances near epsilon: a wrong epsilon shows


def test_an_untrained_autoencoder_scores_the_synthetic_set(synthetic):
    from tinyzoo.common.builders import get_builder

    torch.manual_seed(0)
    test = ad.dcase_test_clips(synthetic)
    scores = ad.clip_scores(get_builder("anomaly/ad_autoencoder")(), ad.clip_windows(test.paths))
    assert scores.shape == (12,) and torch.isfinite(scores).all()
    result = ad.auc_by_machine(scores, test.labels, test.machine_ids)
    assert set(result["per_machine"]) == {"id_01", "id_02"}
    assert 0 <= result["auc"] <= 1 and 0 <= result["pauc"] <= 1


# --- the task in the chain -----------------------------------------------------------------------------------------

def test_the_recipe_and_its_mlperf_weights_validate_and_wrong_wiring_is_named():
    from tinyzoo.common.config import config_problems, load_recipe_config
    from tinyzoo.common.layout import RECIPES

    recipe = RECIPES / "anomaly" / "ad_autoencoder"
    assert config_problems(load_recipe_config(recipe)) == []
    mlperf = load_recipe_config(recipe, "mlperf")
    assert config_problems(mlperf) == [] and mlperf["quantize"]["linear_weights"] == "per_tensor"
    cfg = load_recipe_config(recipe)
    cfg["frontend"]["window_frames"] = 4
    cfg["quantize"]["qat"] = {"enabled": True, "epochs": 1, "lr": 0.001}
    cfg["quantize"]["linear_weights"] = "per_tensor"
    problems = config_problems(cfg)
    assert any(p.startswith("model.args.inputs = 640: must equal frontend.window_frames * n_mels = 512")
               for p in problems)
    assert any(p.startswith("quantize.qat.enabled: an anomaly-detection recipe is quantized by PTQ only")
               for p in problems)
    assert any(p.startswith("quantize.linear_weights = 'per_tensor': for PTQ only") for p in problems)
    cfg = load_recipe_config(recipe)
    cfg["frontend"]["hop_ms"] = 10
    assert any("frontend.hop_ms: unknown key" in p for p in config_problems(cfg))


def test_linear_batch_norm_folds_exactly_and_a_following_relu_keeps_the_full_int8_range():
    from tinyzoo.common.quantize import export_graph, quantize_ptq

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4, bias=False),
                          nn.BatchNorm1d(4)).eval()
    for bn in (model[1], model[4]):
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 2), bn.bias.data.uniform_(-1, 1)
    x = torch.randn(32, 16)
    graph = export_graph(model, (x[:1],))
    assert [str(n.target) for n in graph.graph.nodes if n.op == "call_function"] == \
        ["aten.linear.default", "aten.relu.default", "aten.linear.default"]
    assert torch.allclose(graph(x[:1]), model(x[:1]), atol=1e-6)
    for granularity, weight_quant in (("per_channel", "dequantize_per_channel"),
                                      ("per_tensor", "dequantize_per_tensor")):
        quantized = quantize_ptq(model, (x[:1],), [x], target="ethos-u55-128", linear_weights=granularity)
        nodes = list(quantized.graph.nodes)
        weights = [n.args[1] for n in nodes if n.target is torch.ops.aten.linear.default]
        assert len(weights) == 2 and all(weight_quant in str(n.target) for n in weights)
        relu_out = [n for n in nodes if "quantize_per_tensor" in str(n.target) and "dequantize" not in str(n.target)
                    and n.args[0].target is torch.ops.aten.relu.default]
        assert [n.args[2] for n in relu_out] == [-128]   # observed after the ReLU: no int8 code below zero wasted
        with torch.no_grad():
            assert float((quantized(x[:1]) - model(x[:1])).abs().max()) < 0.2


@pytest.mark.slow
def test_a_quick_build_on_synthetic_clips_then_eval_reproduces_it(tmp_path, capsys):
    import json

    from tinyzoo import cli
    from tinyzoo.common import tasks

    build = tmp_path / "build"
    assert cli.main(["build", "anomaly/ad_autoencoder", "--profile", "quick", "--build-dir", str(build),
                     "--set", "data.synthetic.train_per_id=3", "--set", "data.synthetic.test_per_id=3"]) == 0
    metrics = json.loads((build / "metrics.json").read_text())
    q = metrics["auc"]
    assert metrics["task"] == "anomaly-detection" and metrics["data"]["synthetic"]
    assert q["clips"] == 12 and q["windows"] == 12 * 196 and q["normal"] == q["anomalous"] == 6
    assert 0 <= q["float"]["auc"] <= 1 and set(q["tosa_int8"]) == {"ethos-u55-128"}
    assert q["max_lsb_diff_tosa_fake_quant"]["ethos-u55-128"] <= 2
    assert metrics["targets"]["ethos-u55-128"]["cpu_ops"] == 0
    assert metrics["training"]["epochs"] == 2 and "train_accuracy" not in metrics["training"]["final"]
    card = (build / "card" / "anomaly__ad_autoencoder.md").read_text()
    assert "## Anomaly detection: float → int8 → int8 as the NPU computes it" in card and "**Synthetic**" in card
    task = tasks.of(metrics)
    assert task.index_quality(metrics) == {"float_auc": q["float"]["auc"], "test_clips": 12}
    capsys.readouterr()
    assert cli.main(["eval", "anomaly/ad_autoencoder", "--artifacts", str(build), "--json",
                     "--data-root", str(build / "synthetic_toycar")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["float"]["auc"] == pytest.approx(q["float"]["auc"])
    assert result["tosa_int8"]["ethos-u55-128"]["auc"] == pytest.approx(q["tosa_int8"]["ethos-u55-128"]["auc"])


@pytest.mark.slow
def test_eval_of_the_published_weights_reproduces_the_card_without_data(capsys):
    """`tinyzoo eval anomaly/ad_autoencoder.mlperf` with no data root: its weights were built on the config's
    synthetic set, which eval writes again (same bytes) and scores: the card's AUC figures come back."""
    import json

    from tinyzoo import cli
    from tinyzoo.common.layout import ARTIFACTS

    assert cli.main(["eval", "anomaly/ad_autoencoder.mlperf", "--target", "ethos-u85-256", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    card = json.loads((ARTIFACTS / "anomaly" / "ad_autoencoder.mlperf" / "metrics.json").read_text())["auc"]
    assert result["clips"] == card["clips"]
    assert result["float"]["auc"] == pytest.approx(card["float"]["auc"])
    assert result["tosa_int8"]["ethos-u85-256"]["auc"] == pytest.approx(card["tosa_int8"]["ethos-u85-256"]["auc"])
