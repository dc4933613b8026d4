"""The MFCC front end against independent computations: torchaudio's MFCC transform and a float64 NumPy
loop, on real Speech Commands clips from the bundled sample."""
import numpy as np
import pytest
import torch
import torchaudio

from tinyzoo.common.data.speech_commands import kws_test_set
from tinyzoo.common.frontend import MFCC, MfccConfig, SpecAugment, mfcc_numpy
from tests.conftest import SAMPLE

CFG = MfccConfig()   # the DS-CNN recipe's front end: 40 ms / 20 ms, 1024-point FFT, 40 mels, 10 coefficients


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
