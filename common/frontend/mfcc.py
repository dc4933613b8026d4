"""MFCC front end, written as plain framing → window → FFT → mel → log → DCT so that a C implementation can
match it step by step (every constant comes from `MfccConfig`).

Framing follows TensorFlow's `tf.signal.stft`, the front end of Arm ML-zoo's DS-CNN (40 ms window, 20 ms hop):
frames of `win_length` samples start every `hop_length` samples with no padding (49 frames from 1 s at 16 kHz),
each frame is multiplied by a periodic Hann window and zero-padded at its end to `n_fft`. By default the mel
filterbank is HTK-scale triangles over linear frequency with no area normalisation (torchaudio's
`melscale_fbanks(..., norm=None, mel_scale="htk")`), the log is natural `log(mel + log_offset)`, and the DCT is an
orthonormal DCT-II.

MLPerf Tiny's reference KWS model (DS-CNN) was trained with TensorFlow's front end, which differs in three places;
each is a config key whose default keeps the front end above:

* `normalize: peak` — each clip is divided by its own (signed) maximum sample, `x / reduce_max(x)`, before
  framing (per clip: over the last axis, batched). A clip whose maximum is <= 0 (digital silence, or no positive
  sample) is left unchanged. `none` (default): no normalisation.
* `mel_triangles: mel` — `tf.signal.linear_to_mel_weight_matrix`: HTK mel `1127 ln(1 + f / 700)`, band edges
  equally spaced in mel, every FFT bin's frequency converted to mel and the triangles computed in mel units
  (linear in mel, not in Hz), the DC bin's weight 0, no area normalisation. `hz` (default): triangles linear in Hz.
* `dct: tf` — `tf.signal.mfccs_from_log_mel_spectrograms`: the unnormalised DCT-II `2 sum x_n cos(pi/N (n + 0.5) k)`
  times `1 / sqrt(2 N)`, i.e. `sqrt(2 / N) cos(...)` for every k (coefficient 0 is sqrt(2) larger than the
  orthonormal one). `ortho` (default): orthonormal DCT-II.

MLPerf's configuration: window_ms 30, hop_ms 20, n_fft 512, n_mels 40, f_min 20, f_max 4000, power 1,
log_offset 1e-6, n_mfcc 10, normalize peak, mel_triangles mel, dct tf (49 frames x 10 from 1 s at 16 kHz). The C
front end (common/firmware/frontend/tz_mfcc.c) implements the same options.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tinyzoo.common.errors import ConfigError


@dataclass(frozen=True)
class MfccConfig:
    sample_rate: int = 16000
    window_ms: float = 40.0
    hop_ms: float = 20.0
    n_fft: int = 1024
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float = 4000.0
    power: float = 1.0          # 1: magnitude spectrum, 2: power spectrum
    log_offset: float = 1e-6
    n_mfcc: int = 10
    normalize: str = "none"        # "none" | "peak": divide each clip by its signed maximum (MLPerf Tiny)
    mel_triangles: str = "hz"      # "hz": triangles linear in Hz | "mel": TF's, linear in mel, DC bin 0
    dct: str = "ortho"             # "ortho": orthonormal DCT-II | "tf": tf.signal.mfccs_from_log_mel_spectrograms

    CHOICES = {"normalize": ("none", "peak"), "mel_triangles": ("hz", "mel"), "dct": ("ortho", "tf")}

    def __post_init__(self):
        for key, allowed in self.CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"MFCC front-end {key} = {getattr(self, key)!r}: must be one of {list(allowed)}")

    @classmethod
    def from_dict(cls, cfg: dict) -> "MfccConfig":
        known = cls.__dataclass_fields__
        unknown = sorted(set(cfg) - set(known) - {"type"})
        if unknown:
            raise ConfigError(f"unknown MFCC front-end key(s) {unknown}; known: {sorted(known)}")
        if cfg.get("type", "mfcc") != "mfcc":
            raise ConfigError(f"front end type {cfg['type']!r} is not 'mfcc'")
        return cls(**{k: v for k, v in cfg.items() if k in known})

    def to_dict(self) -> dict:
        return {"type": "mfcc", **asdict(self)}

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.window_ms / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))

    def num_frames(self, num_samples: int) -> int:
        return 1 + (num_samples - self.win_length) // self.hop_length


def hann_window(length: int) -> np.ndarray:
    """Periodic Hann window (as tf.signal.hann_window and torch.hann_window default)."""
    n = np.arange(length, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2 * math.pi * n / length)


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def hz_to_mel_tf(hz):
    """TensorFlow's HTK mel, 1127 ln(1 + f / 700) (tf.signal.linear_to_mel_weight_matrix)."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def mel_filterbank(cfg: MfccConfig) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) matrix of HTK-mel triangles, unnormalised: linear in Hz (`mel_triangles: hz`) or,
    as tf.signal.linear_to_mel_weight_matrix, linear in mel with the DC bin's weight 0 (`mel_triangles: mel`)."""
    bins = np.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    if cfg.mel_triangles == "mel":
        edges = np.linspace(hz_to_mel_tf(cfg.f_min), hz_to_mel_tf(cfg.f_max), cfg.n_mels + 2)
        bins = hz_to_mel_tf(bins)
    else:
        edges = mel_to_hz(np.linspace(hz_to_mel(cfg.f_min), hz_to_mel(cfg.f_max), cfg.n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (centre - lower)
    falling = (upper - bins[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if cfg.mel_triangles == "mel":
        weights[0] = 0.0     # TF drops the DC bin (bands_to_zero = 1)
    return weights


def dct_matrix(n_mels: int, n_mfcc: int, kind: str = "ortho") -> np.ndarray:
    """(n_mels, n_mfcc) DCT-II: coefficients = log_mel @ dct_matrix. "ortho": orthonormal; "tf": as
    tf.signal.mfccs_from_log_mel_spectrograms, the unnormalised DCT-II (2 sum x_n cos(...)) / sqrt(2 n_mels)."""
    n = np.arange(n_mels)[:, None]
    k = np.arange(n_mfcc)[None, :]
    basis = np.cos(math.pi / n_mels * (n + 0.5) * k)
    if kind == "tf":
        return basis * (2.0 / math.sqrt(2.0 * n_mels))
    if kind != "ortho":
        raise ConfigError(f"DCT kind {kind!r}: must be 'ortho' or 'tf'")
    scale = np.where(k == 0, math.sqrt(1.0 / n_mels), math.sqrt(2.0 / n_mels))
    return basis * scale


def peak_normalize_numpy(waveform: np.ndarray) -> np.ndarray:
    """x / max(x) over the last axis (the signed maximum, as MLPerf's reduce_max); clips with max <= 0 unchanged."""
    peak = np.max(waveform, axis=-1, keepdims=True)
    return waveform / np.where(peak > 0, peak, 1.0)


def mfcc_numpy(waveform: np.ndarray, cfg: MfccConfig) -> np.ndarray:
    """Reference implementation in float64 NumPy, one loop per frame (what the C front end does)."""
    window, fbank = hann_window(cfg.win_length), mel_filterbank(cfg)
    dct = dct_matrix(cfg.n_mels, cfg.n_mfcc, cfg.dct)
    if cfg.normalize == "peak":
        waveform = peak_normalize_numpy(np.asarray(waveform, dtype=np.float64))
    out = np.empty((cfg.num_frames(len(waveform)), cfg.n_mfcc))
    for t in range(out.shape[0]):
        frame = waveform[t * cfg.hop_length: t * cfg.hop_length + cfg.win_length] * window
        spectrum = np.abs(np.fft.rfft(frame, n=cfg.n_fft)) ** cfg.power
        out[t] = np.log(spectrum @ fbank + cfg.log_offset) @ dct
    return out


class MFCC(torch.nn.Module):
    """Waveforms (..., samples) in [-1, 1] → MFCC (..., frames, n_mfcc), float32, batched."""

    def __init__(self, cfg: MfccConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.tensor(hann_window(cfg.win_length), dtype=torch.float32), persistent=False)
        self.register_buffer("fbank", torch.tensor(mel_filterbank(cfg), dtype=torch.float32), persistent=False)
        self.register_buffer("dct", torch.tensor(dct_matrix(cfg.n_mels, cfg.n_mfcc, cfg.dct), dtype=torch.float32),
                             persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if self.cfg.normalize == "peak":   # per clip (last axis): x / max(x), clips with max <= 0 unchanged
            peak = waveform.amax(-1, keepdim=True)
            waveform = waveform / torch.where(peak > 0, peak, torch.ones_like(peak))
        frames = waveform.unfold(-1, self.cfg.win_length, self.cfg.hop_length) * self.window
        spectrum = torch.fft.rfft(frames, n=self.cfg.n_fft).abs()
        if self.cfg.power != 1.0:
            spectrum = spectrum ** self.cfg.power
        return torch.log(spectrum @ self.fbank + self.cfg.log_offset) @ self.dct


class SpecAugment(torch.nn.Module):
    """SpecAugment-style masking of (batch, frames, features): random bands of features and of frames set to 0,
    each mask's width drawn uniformly from [0, width] and its start uniformly where it fits, per example."""

    def __init__(self, freq_masks: int = 0, freq_mask_width: int = 0, time_masks: int = 0, time_mask_width: int = 0):
        super().__init__()
        self.freq_masks, self.freq_mask_width = freq_masks, freq_mask_width
        self.time_masks, self.time_mask_width = time_masks, time_mask_width

    @staticmethod
    def _masks(batch: int, size: int, count: int, width: int, generator, device) -> torch.Tensor:
        keep = torch.ones(batch, size, dtype=torch.bool, device=device)
        if count == 0 or width == 0:
            return keep
        positions = torch.arange(size, device=device)
        for _ in range(count):
            w = torch.randint(0, width + 1, (batch, 1), generator=generator).to(device)
            start = (torch.rand(batch, 1, generator=generator).to(device) * (size - w + 1)).long()
            keep &= ~((positions >= start) & (positions < start + w))
        return keep

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.training:
            return x
        batch, frames, features = x.shape
        keep_f = self._masks(batch, features, self.freq_masks, self.freq_mask_width, generator, x.device)
        keep_t = self._masks(batch, frames, self.time_masks, self.time_mask_width, generator, x.device)
        return x * (keep_t[:, :, None] & keep_f[:, None, :])
