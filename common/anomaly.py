"""Anomaly detection on machine sounds, as MLPerf Tiny's AD benchmark does it (the DCASE 2020 Task 2 baseline): a
dense autoencoder reconstructs 640-value windows of a log-mel spectrogram, a clip's anomaly score is its mean
reconstruction error, and the scores are judged by ROC AUC and partial AUC per machine id.

* `LogMelWindows`: the front end (librosa 0.6's mel spectrogram in dB, frames 50-249, 5-frame windows).
* `read_clip`, `dcase_train_clips`, `dcase_test_clips`, `clip_windows`: DCASE 2020 Task 2 clips
  (`dev_data/<machine>/{train,test}/*.wav`) and their features.
* `clip_scores`, `roc_auc`, `partial_auc`, `auc_by_machine`: the score and its evaluation, as sklearn computes it.
* `write_synthetic_toycar`: a small synthetic set in the DCASE layout (no ToyADMOS recordings needed), for tests
  and calibration.
* `load`: a recipe's data (config `data`, `frontend`): the training windows and the labelled test clips.

A user's mistake (a missing folder, an unreadable or foreign file, a clip too short) is a one-line TinyzooError
naming it: DatasetNotFoundError where the data is not where we looked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile
import torch
import torchaudio
from tinyzoo.common import layout
from tinyzoo.common.errors import ConfigError, DatasetNotFoundError, TinyzooError
from torch import nn

SAMPLE_RATE = 16000
EPS = 2.220446049250313e-16   # sys.float_info.epsilon, the baseline's offset before log10
CLIP_NAME = re.compile(r"^(normal|anomaly)_(id_\d+)_.*\.wav$")
HOW_TO_GET = ("get DCASE 2020 Task 2's ToyCar development set (zenodo record 3678171, dev_data_ToyCar.zip) and "
              "unpack it so that <root>/dev_data/ToyCar/train and test exist")


# --- front end ---------------------------------------------------------------------------------------------------

class LogMelWindows(nn.Module):
    """MLPerf Tiny AD's features of one clip or a batch: (samples,) → (windows, window_frames * n_mels), or
    (N, samples) → (N, windows, ...), float32.

    librosa 0.6's `melspectrogram` as the baseline calls it: STFT with a periodic Hann window of `n_fft`,
    `center=True` (reflect padding by n_fft // 2), power `power`; `n_mels` triangular filters on the Slaney mel
    scale (linear below 1 kHz, logarithmic above) with Slaney area normalization, `f_min` to `f_max` (default
    sample_rate / 2). Then `10 * log10(mel + 2.22e-16)` (dB, no reference level, no clipping), the frames
    `first_frame` .. `first_frame + frames - 1`, and every run of `window_frames` consecutive frames (step 1)
    flattened frame-major: [frame t mel 0..127, frame t+1 mel 0..127, ...]. Defaults: 196 windows of 640 values
    from a 10 s clip at 16 kHz.

    A clip must give at least `first_frame + frames` STFT frames (`min_samples`: 127,488 samples, 7.97 s, with the
    defaults); a shorter one is a TinyzooError naming its length. (The baseline instead keeps the frames it has
    and skips a clip with fewer than `window_frames` of them.)
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, n_fft: int = 1024, hop_length: int = 512, n_mels: int = 128,
                 power: float = 2.0, f_min: float = 0.0, f_max: float | None = None, first_frame: int = 50,
                 frames: int = 200, window_frames: int = 5):
        super().__init__()
        if window_frames > frames:
            raise ConfigError(f"window_frames {window_frames} is more than the {frames} frames kept: lower it")
        self.sample_rate, self.hop_length, self.n_mels = sample_rate, hop_length, n_mels
        self.first_frame, self.frames, self.window_frames = first_frame, frames, window_frames
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, f_min=f_min, f_max=f_max, n_mels=n_mels,
            window_fn=torch.hann_window, power=power, center=True, pad_mode="reflect", norm="slaney",
            mel_scale="slaney")

    @property
    def min_samples(self) -> int:
        """The shortest clip that gives the frames kept (center=True: 1 + samples // hop frames)."""
        return (self.first_frame + self.frames - 1) * self.hop_length

    @property
    def windows(self) -> int:
        return self.frames - self.window_frames + 1

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        samples = audio.shape[-1]
        if samples < self.min_samples:
            raise TinyzooError(
                f"a clip of {samples} samples ({samples / self.sample_rate:.2f} s) gives "
                f"{1 + samples // self.hop_length} frames; the AD front end needs {self.first_frame + self.frames} "
                f"(at least {self.min_samples} samples, {self.min_samples / self.sample_rate:.2f} s): use longer clips")
        mel = self.mel(audio.float())                                         # (..., n_mels, all frames)
        db = 10.0 * torch.log10(mel + EPS)
        kept = db[..., self.first_frame:self.first_frame + self.frames].transpose(-1, -2)   # (..., frames, n_mels)
        windows = kept.unfold(-2, self.window_frames, 1)                      # (..., windows, n_mels, window_frames)
        return windows.transpose(-1, -2).reshape(*kept.shape[:-2], self.windows, self.window_frames * self.n_mels)


# --- DCASE 2020 Task 2 clips --------------------------------------------------------------------------------------

def read_clip(path: str | Path, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """A wav as a mono float32 tensor in [-1, 1] (several channels are averaged, as librosa's `mono=True`). A
    missing file is a DatasetNotFoundError; an unreadable one, or one at another sample rate, a TinyzooError."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"{path}: no such file")
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError, ValueError) as err:
        raise TinyzooError(f"{path}: not a readable sound file ({str(err).strip()}): replace or remove it") from None
    if rate != sample_rate:
        raise TinyzooError(f"{path}: sample rate {rate} Hz, the AD front end takes {sample_rate} Hz: resample it")
    return torch.from_numpy(audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0])


@dataclass
class TrainClips:
    """Normal clips to train on, sorted by path."""
    paths: list[Path]
    machine_ids: list[str]       # "id_01", ... as in the file names


@dataclass
class TestClips:
    """Labelled clips to evaluate on, sorted by path."""
    paths: list[Path]
    labels: list[int]            # 0 normal, 1 anomaly
    machine_ids: list[str]


def _split_folder(root: str | Path, machine: str, split: str) -> Path:
    """`<root>/dev_data/<machine>/<split>`, `<root>/<machine>/<split>` or `<root>/<split>`, the first that exists."""
    root = Path(root)
    candidates = [root / "dev_data" / machine / split, root / machine / split, root / split]
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise DatasetNotFoundError(f"no {machine} {split} clips: none of {', '.join(map(str, candidates))} exists; "
                               f"{HOW_TO_GET}")


def _clips(folder: Path, sample_rate: int) -> list[tuple[Path, str, str]]:
    """(path, 'normal' or 'anomaly', machine id) of every wav in `folder`; a name outside the DCASE pattern or a
    file whose header cannot be read or gives another sample rate is an error, never skipped."""
    paths = sorted(folder.glob("*.wav"))
    if not paths:
        raise DatasetNotFoundError(f"no .wav files in {folder}; {HOW_TO_GET}")
    out = []
    for path in paths:
        match = CLIP_NAME.match(path.name)
        if match is None:
            raise TinyzooError(f"{path}: not a DCASE clip name (<normal|anomaly>_id_<NN>_<n>.wav): rename or "
                               f"remove it")
        try:
            rate = soundfile.info(str(path)).samplerate
        except (soundfile.SoundFileError, RuntimeError, ValueError) as err:
            raise TinyzooError(f"{path}: not a readable sound file ({str(err).strip()}): replace or remove "
                               f"it") from None
        if rate != sample_rate:
            raise TinyzooError(f"{path}: sample rate {rate} Hz, the AD front end takes {sample_rate} Hz: resample it")
        out.append((path, match.group(1), match.group(2)))
    return out


def dcase_train_clips(root: str | Path, machine: str = "ToyCar", sample_rate: int = SAMPLE_RATE) -> TrainClips:
    """The training clips (`normal_id_NN_*.wav`) of `machine`; `root` is the data root (holding `dev_data/`),
    `dev_data/` itself or the machine's folder (holding `train/` and `test/`)."""
    folder = _split_folder(root, machine, "train")
    clips = _clips(folder, sample_rate)
    anomalous = [path for path, kind, _ in clips if kind != "normal"]
    if anomalous:
        raise TinyzooError(f"{anomalous[0]}: an anomaly clip among the training clips (DCASE trains on normal "
                           f"sounds only): move it to {folder.parent / 'test'}")
    return TrainClips([path for path, _, _ in clips], [machine_id for _, _, machine_id in clips])


def dcase_test_clips(root: str | Path, machine: str = "ToyCar", sample_rate: int = SAMPLE_RATE) -> TestClips:
    """The test clips (`normal_id_NN_*.wav` label 0, `anomaly_id_NN_*.wav` label 1) of `machine`; `root` as for
    `dcase_train_clips`."""
    clips = _clips(_split_folder(root, machine, "test"), sample_rate)
    return TestClips([path for path, _, _ in clips], [int(kind == "anomaly") for _, kind, _ in clips],
                     [machine_id for _, _, machine_id in clips])


def clip_windows(paths: Sequence[str | Path], frontend: LogMelWindows | None = None) -> torch.Tensor:
    """The front end's windows of each clip: (clips, windows, 640) float32."""
    frontend = frontend or LogMelWindows()
    with torch.no_grad():
        return torch.stack([frontend(read_clip(path, frontend.sample_rate)) for path in paths])


# --- score and evaluation ----------------------------------------------------------------------------------------

def clip_scores(model: nn.Module, windows_per_clip: torch.Tensor | Sequence[torch.Tensor],
                batch_size: int = 8192) -> torch.Tensor:
    """Each clip's anomaly score, the MLPerf / DCASE one: the mean over its windows of the mean squared error (over
    the window's values) between the window and the model's reconstruction. `windows_per_clip`: (clips, windows,
    values), or one (windows, values) tensor per clip. The model runs in eval mode (its mode is restored after),
    `batch_size` windows at a time, on its own device. Returns (clips,) float32 on the CPU."""
    clips = list(windows_per_clip)
    counts = [len(clip) for clip in clips]
    if not clips or min(counts) == 0:
        raise TinyzooError("clip_scores needs at least one clip and at least one window per clip")
    windows = torch.cat([torch.as_tensor(clip, dtype=torch.float32) for clip in clips])
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    errors = []
    try:
        with torch.no_grad():
            for batch in windows.split(batch_size):
                batch = batch.to(device)
                errors.append(((model(batch) - batch) ** 2).mean(dim=1).cpu())
    finally:
        model.train(was_training)
    return torch.stack([e.mean() for e in torch.cat(errors).split(counts)])


def _binary(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if scores.shape != labels.shape:
        raise TinyzooError(f"{scores.size} scores for {labels.size} labels: give one score per clip")
    if not np.isin(labels, (0, 1)).all():
        raise TinyzooError(f"labels must be 0 (normal) or 1 (anomaly), not {sorted(set(labels.tolist()) - {0, 1})}")
    if not (labels == 0).any() or not (labels == 1).any():
        raise TinyzooError("AUC needs both normal (0) and anomaly (1) clips; the labels hold only one kind")
    if not np.isfinite(scores).all():
        raise TinyzooError("an anomaly score is NaN or infinite: the model's reconstruction diverged")
    return scores, labels.astype(bool)


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates) from (0, 0) to (1, 1), one point per distinct score (higher =
    more anomalous), so tied scores make one diagonal step: the curve sklearn's `roc_curve` gives (less the
    collinear points it drops, which change no area)."""
    scores, positive = _binary(scores, labels)
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]     # the last clip of each distinct score
    tps = np.cumsum(positive)[last]
    fps = (last + 1) - tps
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]]


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve (trapezoids, ties as one diagonal step = average ranks), as
    `sklearn.metrics.roc_auc_score(labels, scores)`."""
    fpr, tpr = roc_curve(scores, labels)
    return float(np.trapezoid(tpr, fpr))


def partial_auc(scores, labels, max_fpr: float = 0.1) -> float:
    """The partial AUC up to false positive rate `max_fpr`, McClish-standardized, as
    `sklearn.metrics.roc_auc_score(labels, scores, max_fpr=max_fpr)`, which the DCASE 2020 baseline reports as
    pAUC: the area A under the ROC curve from 0 to max_fpr (the curve interpolated linearly at max_fpr), mapped
    by 0.5 * (1 + (A - min) / (max - min)) with min = max_fpr^2 / 2 (chance) and max = max_fpr (perfect), so
    chance is 0.5 and a perfect detector 1 (not the raw area A / max_fpr)."""
    if not 0 < max_fpr <= 1:
        raise TinyzooError(f"max_fpr {max_fpr} is outside (0, 1]")
    fpr, tpr = roc_curve(scores, labels)
    if max_fpr == 1:
        return float(np.trapezoid(tpr, fpr))
    stop = np.searchsorted(fpr, max_fpr, "right")
    tpr = np.r_[tpr[:stop], np.interp(max_fpr, fpr[stop - 1:stop + 1], tpr[stop - 1:stop + 1])]
    fpr = np.r_[fpr[:stop], max_fpr]
    area = float(np.trapezoid(tpr, fpr))
    low, high = 0.5 * max_fpr ** 2, max_fpr
    return 0.5 * (1 + (area - low) / (high - low))


def auc_by_machine(scores, labels, machine_ids: Sequence[str], max_fpr: float = 0.1) -> dict:
    """AUC and pAUC of each machine id's clips, and their means over the ids (DCASE averages per id, not over all
    clips): {"per_machine": {id: {"auc", "pauc"}}, "auc": mean, "pauc": mean}."""
    scores, labels, ids = np.asarray(scores).reshape(-1), np.asarray(labels).reshape(-1), np.asarray(machine_ids)
    if ids.shape != labels.shape:
        raise TinyzooError(f"{ids.size} machine ids for {labels.size} labels: give one id per clip")
    per_machine = {}
    for machine_id in sorted(set(ids.tolist())):
        mine = ids == machine_id
        if labels[mine].min() == labels[mine].max():
            kind = "anomaly" if labels[mine][0] else "normal"
            raise TinyzooError(f"machine {machine_id}: its test clips are all {kind}; AUC needs both kinds per id")
        per_machine[machine_id] = {"auc": roc_auc(scores[mine], labels[mine]),
                                   "pauc": partial_auc(scores[mine], labels[mine], max_fpr)}
    return {"per_machine": per_machine,
            "auc": float(np.mean([m["auc"] for m in per_machine.values()])),
            "pauc": float(np.mean([m["pauc"] for m in per_machine.values()]))}


# --- a synthetic machine-sound set -------------------------------------------------------------------------------

FAULTS = ("knock", "whine", "grind")


def _band_noise(rng: np.random.Generator, samples: int, low: float, high: float, sample_rate: int) -> np.ndarray:
    """White noise kept between `low` and `high` Hz (FFT mask), unit standard deviation."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    freqs = np.fft.rfftfreq(samples, 1 / sample_rate)
    spectrum[(freqs < low) | (freqs > high)] = 0
    noise = np.fft.irfft(spectrum, samples)
    return noise / noise.std()


def _machine_sound(rng: np.random.Generator, samples: int, f0: float, sample_rate: int) -> np.ndarray:
    """A toy car's motor: 8 harmonics of a fundamental that wanders slowly (a slow sinusoid plus a smoothed random
    walk, a few percent), over band-limited noise (gears, road) and a faint broadband floor."""
    t = np.arange(samples) / sample_rate
    slow = 0.03 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 2 * np.pi))
    steps = np.cumsum(rng.normal(0, 0.004, int(samples / sample_rate * 50) + 2))   # a random walk at 50 Hz
    walk = np.interp(t, np.arange(steps.size) / 50, steps - steps.mean())
    phase = 2 * np.pi * np.cumsum(f0 * (1 + slow + walk)) / sample_rate
    sound = sum(rng.uniform(0.6, 1.0) / k * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in range(1, 9))
    sound += 0.3 * _band_noise(rng, samples, 200, 3000, sample_rate)
    return sound + 0.01 * rng.standard_normal(samples)


def _fault(rng: np.random.Generator, sound: np.ndarray, kind: str, f0: float, sample_rate: int) -> np.ndarray:
    """`sound` with a fault: `knock` periodic decaying 2-4 kHz bursts (4-9 a second), `whine` an extra inharmonic
    tone with its second harmonic, `grind` 4-7 kHz noise switched on and off every 0.1-0.4 s."""
    samples = sound.size
    t = np.arange(samples) / sample_rate
    if kind == "knock":
        burst_t = np.arange(int(0.03 * sample_rate)) / sample_rate
        burst = np.sin(2 * np.pi * rng.uniform(2000, 4000) * burst_t) * np.exp(-burst_t / 0.005)
        pulses = np.zeros(samples)
        period = int(sample_rate / rng.uniform(4, 9))
        pulses[rng.integers(0, period)::period] = 1.5
        return sound + np.convolve(pulses, burst)[:samples]
    if kind == "whine":
        phase = 2 * np.pi * f0 * rng.uniform(7.3, 11.7) * t + rng.uniform(0, 2 * np.pi)
        return sound + np.sin(phase) + 0.5 * np.sin(2 * phase)
    edges = np.cumsum(rng.uniform(0.1, 0.4, int(t[-1] / 0.1) + 2) * sample_rate).astype(int)   # grind
    on = np.zeros(samples)
    for start, stop in zip(edges[::2], edges[1::2]):
        on[start:stop] = 1.0
    return sound + 0.3 * on * _band_noise(rng, samples, 4000, 7000, sample_rate)


def write_synthetic_toycar(root: str | Path, *, train_per_id: int = 10, test_per_id: int = 5,
                           ids: Sequence[int] = (1, 2), seconds: float = 10.0, seed: int = 0,
                           machine: str = "ToyCar", sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a small synthetic set in the DCASE 2020 Task 2 layout under `root` and return `root`:
    `dev_data/<machine>/train/normal_id_NN_<n>.wav` (`train_per_id` per id) and `dev_data/<machine>/test/
    {normal,anomaly}_id_NN_<n>.wav` (`test_per_id` of each kind per id); 16 kHz mono int16, `seconds` long.

    Normal: a toy-car-like machine sound (`_machine_sound`), its fundamental 90 Hz for id 1, 35 % higher per
    further id, and a random level. Anomaly: the same kind of sound with a clear fault, the kinds `FAULTS` in
    turn (periodic knocks, an inharmonic whine, grinding noise). Every clip draws from its own generator seeded by
    (seed, id, split, index): the same arguments write the same bytes."""
    root = Path(root)
    samples = int(round(seconds * sample_rate))
    base = root / "dev_data" / machine
    for split in ("train", "test"):
        (base / split).mkdir(parents=True, exist_ok=True)
    for machine_id in ids:
        f0 = 90.0 * 1.35 ** (machine_id - 1)
        plan = [("train", "normal", n) for n in range(train_per_id)]
        plan += [("test", kind, n) for kind in ("normal", "anomaly") for n in range(test_per_id)]
        for split, kind, n in plan:
            part = 0 if split == "train" else 1 + (kind == "anomaly")
            rng = np.random.default_rng((seed, machine_id, part, n))
            sound = _machine_sound(rng, samples, f0, sample_rate)
            if kind == "anomaly":
                sound = _fault(rng, sound, FAULTS[n % len(FAULTS)], f0, sample_rate)
            level = 0.08 * 10 ** (rng.uniform(-1.5, 1.5) / 20)
            pcm = np.clip(np.round(sound * level * 32767), -32768, 32767).astype(np.int16)
            soundfile.write(base / split / f"{kind}_id_{machine_id:02d}_{n:08d}.wav", pcm, sample_rate,
                            subtype="PCM_16")
    return root


# --- a recipe's data ------------------------------------------------------------------------------------------------

@dataclass
class WindowSet:
    """An autoencoder's training items: each window (N, values) is its own target. `ids`: "<clip>#<window>"."""
    windows: torch.Tensor
    ids: list[str]
    clips: int

    def __len__(self) -> int:
        return len(self.windows)

    def batch(self, indices):
        windows = self.windows[indices]
        return windows, windows

    def subset(self, indices) -> "WindowSet":
        idx = list(indices)
        return WindowSet(self.windows[idx], [self.ids[i] for i in idx], len({self.ids[i].split("#")[0] for i in idx}))

    def summary(self) -> dict:
        return {"clips": self.clips, "windows": len(self)}


@dataclass
class Data:
    """A recipe's data: the training windows (normal sounds) and the labelled test clips with their windows."""
    train: WindowSet
    test: TestClips
    test_windows: torch.Tensor          # (clips, windows, values)
    data_root: Path
    synthetic: bool


def frontend_of(cfg: dict) -> LogMelWindows:
    """The front end a config's `frontend` section (type logmel_windows) describes."""
    return LogMelWindows(sample_rate=cfg["sample_rate"], n_fft=cfg["n_fft"], hop_length=cfg["hop_length"],
                         n_mels=cfg["n_mels"], first_frame=cfg["first_frame"], frames=cfg["frames"],
                         window_frames=cfg["window_frames"])


def synthetic_set(cfg: dict, folder: Path) -> Path:
    """The synthetic set a config's `data.synthetic` describes, written into `folder` (the same bytes every time)."""
    synthetic = cfg["data"]["synthetic"]
    return write_synthetic_toycar(folder, train_per_id=synthetic["train_per_id"], test_per_id=synthetic["test_per_id"],
                                  ids=tuple(synthetic["ids"]), seed=synthetic.get("seed", 0),
                                  machine=cfg["data"]["machine"], sample_rate=cfg["frontend"]["sample_rate"])


def load(cfg: dict, root: str | Path | None, build_dir: Path) -> Data:
    """The training windows of the normal clips and the test clips of `data.machine`, from the DCASE layout at the
    data root; with `data.synthetic.enabled` from a synthetic set written into the build folder instead (no
    ToyADMOS recordings: the figures then say how int8 follows float, not how well the model finds faults)."""
    data, frontend = cfg["data"], frontend_of(cfg["frontend"])
    synthetic = data.get("synthetic") or {}
    root = synthetic_set(cfg, build_dir / "synthetic_toycar") if synthetic.get("enabled") \
        else layout.data_root(root, HOW_TO_GET)
    train = dcase_train_clips(root, data["machine"], frontend.sample_rate)
    test = dcase_test_clips(root, data["machine"], frontend.sample_rate)
    windows = clip_windows(train.paths, frontend)
    ids = [f"{path.stem}#{k}" for path in train.paths for k in range(windows.shape[1])]
    return Data(WindowSet(windows.reshape(-1, windows.shape[-1]), ids, len(train.paths)), test,
                clip_windows(test.paths, frontend), Path(root), bool(synthetic.get("enabled")))
