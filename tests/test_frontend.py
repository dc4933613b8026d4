"""The MFCC front end against independent computations: torchaudio's MFCC transform and a float64 NumPy
loop, on real Speech Commands clips from the bundled sample."""
from dataclasses import replace

import numpy as np
import pytest
import torch
import torchaudio
from tinyzoo.common.config import config_problems, load_recipe_config
from tinyzoo.common.data.speech_commands import kws_test_set
from tinyzoo.common.errors import ConfigError
from tinyzoo.common.frontend import (
    MFCC,
    MfccConfig,
    SpecAugment,
    dct_matrix,
    mel_filterbank,
    mfcc_numpy,
)

from tests.conftest import REPO, SAMPLE

CFG = MfccConfig()   # the DS-CNN recipe's front end: 40 ms / 20 ms, 1024-point FFT, 40 mels, 10 coefficients
# MLPerf Tiny's KWS front end (TensorFlow's, the one its reference DS-CNN was trained with)
MLPERF = MfccConfig.from_dict({"window_ms": 30, "hop_ms": 20, "n_fft": 512, "n_mels": 40, "f_min": 20, "f_max": 4000,
                               "power": 1, "log_offset": 1e-6, "n_mfcc": 10, "normalize": "peak",
                               "mel_triangles": "mel", "dct": "tf"})


@pytest.fixture(scope="module")
def clips():
    data_cfg = {"labels": ["_silence_", "_unknown_", "yes", "no"], "clip_samples": 16000,
                "version": "speech_commands_v0.02"}
    return kws_test_set(SAMPLE, data_cfg).float_waveforms(slice(0, 24))


def test_shape_matches_mlzoo_framing():
    assert (CFG.win_length, CFG.hop_length, CFG.num_frames(16000)) == (640, 320, 49)
    assert MFCC(CFG)(torch.zeros(3, 16000)).shape == (3, 49, 10)


def test_matches_torchaudio(clips):
    """torchaudio frames n_fft samples with the window centred in them; padding (n_fft - win) / 2 zeros on both
    sides makes its frames the same as ours (tf.signal.stft framing), and |FFT| is unchanged by where the
    zero padding sits."""
    pad = (CFG.n_fft - CFG.win_length) // 2
    reference = torchaudio.transforms.MFCC(
        sample_rate=CFG.sample_rate, n_mfcc=CFG.n_mfcc, log_mels=True,
        melkwargs=dict(n_fft=CFG.n_fft, win_length=CFG.win_length, hop_length=CFG.hop_length, f_min=CFG.f_min,
                       f_max=CFG.f_max, n_mels=CFG.n_mels, power=CFG.power, center=False, norm=None,
                       mel_scale="htk"))(torch.nn.functional.pad(clips, (pad, pad))).transpose(-1, -2)
    ours = MFCC(CFG)(clips)
    assert ours.shape == reference.shape == (len(clips), 49, 10)
    # float32 FFTs in two libraries: agree to ~1e-3 on coefficients of magnitude ~10-500
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-3, atol=2e-3)


def test_matches_float64_reference(clips):
    ours = MFCC(CFG)(clips[:4]).numpy()
    for i in range(4):
        np.testing.assert_allclose(ours[i], mfcc_numpy(clips[i].double().numpy(), CFG), rtol=1e-4, atol=1e-3)


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="window_size"):
        MfccConfig.from_dict({"window_size": 30})
    assert MfccConfig.from_dict(CFG.to_dict()) == CFG


def test_spec_augment_masks_bands_and_is_off_in_eval():
    x = torch.ones(8, 49, 10)
    aug = SpecAugment(freq_masks=1, freq_mask_width=3, time_masks=2, time_mask_width=5).train()
    g = torch.Generator().manual_seed(0)
    y = aug(x, generator=g)
    zero_cols = (y == 0).all(1).sum(1)           # masked coefficient bands per example
    zero_rows = (y == 0).all(2).sum(1)           # masked frames per example
    assert (zero_cols <= 3).all() and (zero_rows <= 10).all() and (zero_cols + zero_rows).sum() > 0
    assert torch.equal(aug(x, generator=torch.Generator().manual_seed(0)), y)
    assert torch.equal(aug.eval()(x), x)


# --- MLPerf Tiny's front end (normalize: peak, mel_triangles: mel, dct: tf) -----------------------------------------

def tf_linear_to_mel_weight_matrix(num_mel_bins, num_spectrogram_bins, sample_rate, lower_hz, upper_hz):
    """tf.signal.linear_to_mel_weight_matrix written out bin by bin (tensorflow/python/ops/signal/mel_ops.py),
    in float64: HTK mel 1127 ln(1 + f / 700), edges equally spaced in mel, triangles in mel, DC bin dropped."""
    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)
    nyquist = sample_rate / 2.0
    lo, hi = mel(lower_hz), mel(upper_hz)
    edges = [lo + (hi - lo) * i / (num_mel_bins + 1) for i in range(num_mel_bins + 2)]
    out = np.zeros((num_spectrogram_bins, num_mel_bins))
    for k in range(1, num_spectrogram_bins):          # bands_to_zero = 1: row 0 (DC) stays 0
        m = mel(nyquist * k / (num_spectrogram_bins - 1))
        for j in range(num_mel_bins):
            left, centre, right = edges[j], edges[j + 1], edges[j + 2]
            out[k, j] = max(0.0, min((m - left) / (centre - left), (right - m) / (right - centre)))
    return out


def test_defaults_are_todays_front_end():
    assert (CFG.normalize, CFG.mel_triangles, CFG.dct) == ("none", "hz", "ortho")
    assert MfccConfig.from_dict({"type": "mfcc"}) == CFG
    assert MfccConfig.from_dict(MLPERF.to_dict()) == MLPERF
    for key, value in (("normalize", "max"), ("mel_triangles", "slaney"), ("dct", "scipy")):
        with pytest.raises(ConfigError, match=key):
            MfccConfig.from_dict({key: value})


def test_config_schema_knows_the_new_keys():
    cfg = load_recipe_config(REPO / "recipes" / "kws" / "ds_cnn")
    cfg["frontend"].update({k: v for k, v in MLPERF.to_dict().items() if k != "type"})
    assert config_problems(cfg) == []
    cfg["frontend"].update(normalize="max", mel_triangles="slaney", dct="scipy")
    assert sorted(p.split(" ")[0] for p in config_problems(cfg)) == \
        ["frontend.dct", "frontend.mel_triangles", "frontend.normalize"]


def test_mel_triangles_match_tensorflow():
    fbank = mel_filterbank(MLPERF)
    reference = tf_linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 4000.0)
    assert fbank.shape == (257, 40)
    np.testing.assert_allclose(fbank, reference, rtol=0, atol=1e-12)
    assert (fbank[0] == 0).all() and (fbank > 0).any(0).all()
    # and they differ from the default triangles (linear in Hz) of the same config
    hz = mel_filterbank(replace(MLPERF, mel_triangles="hz"))
    assert np.abs(hz - fbank).max() > 1e-3


def test_tf_dct_is_tensorflows_scaling():
    n_mels, n_mfcc = 40, 10
    direct = np.array([[2 * np.cos(np.pi / n_mels * (n + 0.5) * k) / np.sqrt(2 * n_mels) for k in range(n_mfcc)]
                       for n in range(n_mels)])
    np.testing.assert_allclose(dct_matrix(n_mels, n_mfcc, "tf"), direct, rtol=0, atol=1e-15)
    x = np.random.default_rng(0).standard_normal(n_mels)
    scipy_fft = pytest.importorskip("scipy.fft")
    np.testing.assert_allclose(x @ dct_matrix(n_mels, n_mfcc, "tf"),
                               scipy_fft.dct(x, type=2, norm=None)[:n_mfcc] / np.sqrt(2 * n_mels), rtol=1e-12)
    ortho = dct_matrix(n_mels, n_mfcc)
    np.testing.assert_allclose(direct[:, 0], np.sqrt(2) * ortho[:, 0], rtol=1e-12)   # only c0 differs
    np.testing.assert_allclose(direct[:, 1:], ortho[:, 1:], rtol=1e-12)


def test_peak_normalisation_is_per_clip_and_scale_invariant(clips):
    x = clips[3].double().numpy()
    ref = mfcc_numpy(x, MLPERF)
    np.testing.assert_allclose(mfcc_numpy(0.3 * x, MLPERF), ref, rtol=1e-12, atol=1e-12)
    unnormalised = replace(MLPERF, normalize="none")
    np.testing.assert_allclose(mfcc_numpy(x / x.max(), unnormalised), ref, rtol=0, atol=1e-12)
    batch = torch.stack([clips[3], 0.3 * clips[3], clips[5]])          # batched: each clip by its own peak
    out = MFCC(MLPERF)(batch).numpy()
    np.testing.assert_allclose(out[1], out[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out[2], MFCC(MLPERF)(clips[5][None])[0].numpy(), rtol=1e-5, atol=1e-5)
    # max <= 0 (digital silence, or no positive sample): the clip is left unchanged
    for clip in (np.zeros(16000), -np.abs(x)):
        np.testing.assert_array_equal(mfcc_numpy(clip, MLPERF), mfcc_numpy(clip, unnormalised))
        np.testing.assert_array_equal(MFCC(MLPERF)(torch.tensor(clip, dtype=torch.float32)[None]).numpy(),
                                      MFCC(unnormalised)(torch.tensor(clip, dtype=torch.float32)[None]).numpy())


def test_mlperf_front_end_torch_matches_float64_reference(clips):
    assert (MLPERF.win_length, MLPERF.hop_length, MLPERF.num_frames(16000)) == (480, 320, 49)
    ours = MFCC(MLPERF)(clips[:6]).numpy()
    assert ours.shape == (6, 49, 10)
    for i in range(6):
        np.testing.assert_allclose(ours[i], mfcc_numpy(clips[i].double().numpy(), MLPERF), rtol=1e-4, atol=1e-3)
