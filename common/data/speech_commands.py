"""Google Speech Commands for keyword spotting, in the layout torchaudio's `SPEECHCOMMANDS` downloads:

    <root>/SpeechCommands/speech_commands_v0.02/<word>/<speaker>_nohash_<n>.wav   (+ validation_list.txt,
        testing_list.txt, _background_noise_/)
    <root>/SpeechCommands/speech_commands_test_set_v0.02/_silence_/*.wav          (the official test-set archive)

The 12-class task of MLPerf Tiny / ML-zoo: ten keywords, `_unknown_` (every other word) and `_silence_`
(1-s excerpts of `_background_noise_` for training; the test-set archive's `_silence_` clips for testing).
Clips are held in memory as int16 (1 s at 16 kHz = 32 KB each), padded with zeros to one second.
"""
from __future__ import annotations

import logging
import random
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
import torch
from tinyzoo.common.errors import DatasetNotFoundError

log = logging.getLogger(__name__)

FOLDER_IN_ARCHIVE = "SpeechCommands"
TEST_SET_URL = "http://download.tensorflow.org/data/speech_commands_test_set_v0.02.tar.gz"
TEST_SET_FOLDER = "speech_commands_test_set_v0.02"
NOISE_FOLDER = "_background_noise_"
SILENCE, UNKNOWN = "_silence_", "_unknown_"


def how_to_get(root: Path) -> str:
    return (f"Download Speech Commands with `tinyzoo data speech_commands --download --data-root {root}` "
            f"(2.3 GB, CC BY 4.0), or point --data-root / $TINYZOO_DATA at a folder holding "
            f"{FOLDER_IN_ARCHIVE}/<version>/ in torchaudio's SPEECHCOMMANDS layout.")


def find_speech_commands(root: str | Path, version: str = "speech_commands_v0.02") -> Path:
    """The `<version>` folder under a data root (accepts the root, root/SpeechCommands or the folder itself)."""
    root = Path(root)
    candidates = [root / FOLDER_IN_ARCHIVE / version, root / version, root]
    for path in candidates:
        if path.is_dir() and (path / "testing_list.txt").exists():
            return path
    raise DatasetNotFoundError(
        f"Speech Commands ({version}) not found: looked for testing_list.txt in "
        f"{', '.join(str(c) for c in candidates)}. {how_to_get(root)}")


def download_speech_commands(root: str | Path, version: str = "speech_commands_v0.02") -> Path:
    """The real download path: torchaudio's SPEECHCOMMANDS archive (checksummed by torchaudio) plus the official
    test-set archive with its `_silence_` clips. Extracts into a temporary folder first, so an interrupted
    download leaves nothing half-written under the data root."""
    from torchaudio.datasets import SPEECHCOMMANDS

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    SPEECHCOMMANDS(str(root), url=version, folder_in_archive=FOLDER_IN_ARCHIVE, download=True)
    test_dir = root / FOLDER_IN_ARCHIVE / TEST_SET_FOLDER
    if version.endswith("v0.02") and not test_dir.exists():
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            archive = Path(tmp) / "test_set.tar.gz"
            log.info("downloading %s", TEST_SET_URL)
            urllib.request.urlretrieve(TEST_SET_URL, archive)
            with tarfile.open(archive) as tar:
                tar.extractall(Path(tmp) / "x", filter="data")
            shutil.move(str(Path(tmp) / "x"), str(test_dir))
    return find_speech_commands(root, version)


@dataclass
class ClipSet(torch.utils.data.Dataset):
    """Clips in memory: int16 waveforms (N, samples), integer labels, ids (`<word>/<file>`), and where each came
    from (`sources`, e.g. "speech_commands_v0.02", "synthetic", "background_noise")."""
    waveforms: torch.Tensor
    labels: torch.Tensor
    ids: list[str]
    sources: list[str]
    label_names: list[str]
    words: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        return self.waveforms[index].float() / 32768.0, self.labels[index]

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        return self.float_waveforms(indices), self.labels[indices]

    def float_waveforms(self, index=slice(None)) -> torch.Tensor:
        return self.waveforms[index].float() / 32768.0

    def subset(self, indices) -> "ClipSet":
        idx = list(indices)
        return ClipSet(self.waveforms[idx], self.labels[idx], [self.ids[i] for i in idx],
                       [self.sources[i] for i in idx], self.label_names,
                       [self.words[i] for i in idx] if self.words else [])

    def summary(self) -> dict:
        """Counts per class and per source: what the card says the model saw."""
        per_class = {name: int((self.labels == i).sum()) for i, name in enumerate(self.label_names)}
        per_source: dict[str, int] = {}
        for s in self.sources:
            per_source[s] = per_source.get(s, 0) + 1
        return {"clips": len(self), "per_class": per_class, "per_source": per_source}

    @staticmethod
    def concat(sets: list["ClipSet"]) -> "ClipSet":
        sets = [s for s in sets if len(s)]
        if not sets:
            raise DatasetNotFoundError("no clips")
        return ClipSet(torch.cat([s.waveforms for s in sets]), torch.cat([s.labels for s in sets]),
                       sum((s.ids for s in sets), []), sum((s.sources for s in sets), []), sets[0].label_names,
                       sum((s.words for s in sets), []))


def label_of(word: str, labels: list[str]) -> int:
    if word in labels:
        return labels.index(word)
    return labels.index(UNKNOWN)


def load_clips(folder: Path, relpaths: list[str], labels: list[str], source: str, samples: int = 16000,
               sample_rate: int = 16000) -> ClipSet:
    """The clips `relpaths` (`<word>/<file>.wav`) of `folder` as the model's input (`conform_clip`): what was
    converted, and each unreadable file (skipped), is said in one warning line per kind, naming the folder."""
    report, waves, kept = ConformReport(sample_rate, samples), [], []
    for rel in sorted(relpaths):
        wave = conform_clip(folder / rel, sample_rate, samples, report)
        if wave is not None:
            waves.append(wave)
            kept.append(rel)
    for line in report.lines():
        log.warning("%s: %s", folder, line)
    words = [p.split("/")[0] for p in kept]
    return ClipSet(torch.from_numpy(np.stack(waves) if waves else np.zeros((0, samples), np.int16)),
                   torch.tensor([label_of(w, labels) for w in words], dtype=torch.long),
                   kept, [source] * len(kept), list(labels), words)


def split_lists(folder: Path) -> dict[str, list[str]]:
    """The official split of every word clip in a version folder: training / validation / testing."""
    listed = {}
    for split in ("validation", "testing"):
        path = folder / f"{split}_list.txt"
        listed[split] = set(path.read_text().split()) if path.exists() else set()
    splits = {"training": [], "validation": [], "testing": []}
    present = set()
    for wav in sorted(folder.glob("*/*.wav")):
        if wav.parent.name.startswith("_"):
            continue
        rel = f"{wav.parent.name}/{wav.name}"
        present.add(rel)
        split = "testing" if rel in listed["testing"] else "validation" if rel in listed["validation"] else "training"
        splits[split].append(rel)
    for split, names in listed.items():
        missing = sorted(names - present)
        if missing:   # a partial copy of the dataset: its figures are on fewer clips than the official split
            log.warning("%s: %d clip(s) listed in %s_list.txt are not there (first: %s); the %s split has %d",
                        folder, len(missing), split, missing[0], split, len(splits[split]))
    return splits


def background_noise(root: str | Path, version: str = "speech_commands_v0.02") -> list[np.ndarray]:
    """The `_background_noise_` recordings as float32 in [-1, 1]."""
    folder = find_speech_commands(root, version) / NOISE_FOLDER
    files = sorted(folder.glob("*.wav"))
    if not files:
        raise DatasetNotFoundError(f"no background noise recordings in {folder}. {how_to_get(Path(root))}")
    return [soundfile.read(str(f), dtype="float32")[0] for f in files]


def silence_clips(noise: list[np.ndarray], count: int, labels: list[str], *, samples: int, seed: int) -> ClipSet:
    """`_silence_` training clips: random 1-s excerpts of the background noise at a random gain (0.05-1)."""
    rng = np.random.default_rng(seed)
    waves, ids = np.zeros((count, samples), np.int16), []
    for i in range(count):
        k = int(rng.integers(len(noise)))
        start = int(rng.integers(0, len(noise[k]) - samples))
        gain = float(rng.uniform(0.05, 1.0))
        waves[i] = np.clip(noise[k][start:start + samples] * gain * 32767, -32768, 32767).astype(np.int16)
        ids.append(f"{SILENCE}/noise{k}_{start}_{i}")
    return ClipSet(torch.from_numpy(waves), torch.full((count,), labels.index(SILENCE), dtype=torch.long), ids,
                   ["background_noise"] * count, list(labels), [SILENCE] * count)


def _balance_unknown(clips: ClipSet, per_keyword: float, fraction: float, seed: int) -> ClipSet:
    """Keep every keyword clip and at most fraction × (mean clips per keyword) `_unknown_` clips, taken
    round-robin over the unknown words so that no single word (e.g. the 974 real `eight`) dominates."""
    unknown = clips.label_names.index(UNKNOWN)
    is_unknown = (clips.labels == unknown).tolist()
    by_word: dict[str, list[int]] = {}
    for i, u in enumerate(is_unknown):
        if u:
            by_word.setdefault(clips.words[i] if clips.words else "", []).append(i)
    limit = int(round(per_keyword * fraction))
    rng = random.Random(seed)
    queues = [rng.sample(v, len(v)) for _, v in sorted(by_word.items())]
    keep_unknown: list[int] = []
    while len(keep_unknown) < limit and any(queues):
        for q in queues:
            if q and len(keep_unknown) < limit:
                keep_unknown.append(q.pop())
    return clips.subset(sorted([i for i, u in enumerate(is_unknown) if not u] + keep_unknown))


def _repeat_real_keywords(clips: ClipSet, times: int) -> ClipSet:
    """Show every real keyword clip `times` times per epoch (augmentation makes each showing different), so that
    real recordings are not a mark of `_unknown_` when most keyword clips are synthetic."""
    if times <= 1:
        return clips
    real = [i for i, (s, w) in enumerate(zip(clips.sources, clips.words))
            if s != "synthetic" and not clips.label_names[int(clips.labels[i])].startswith("_")]
    return ClipSet.concat([clips] + [clips.subset(real)] * (times - 1))


def _cap_real_keywords(clips: ClipSet, cap: int, seed: int) -> ClipSet:
    """At most `cap` real clips of each keyword (a seeded draw; synthetic clips and `_unknown_` words all kept):
    how a user with few recordings of their own keyword trains."""
    generator = torch.Generator().manual_seed(seed)
    keep = [i for i, s in enumerate(clips.sources)
            if s == "synthetic" or clips.label_names[int(clips.labels[i])].startswith("_")]
    for k, name in enumerate(clips.label_names):
        if name.startswith("_"):
            continue
        real = [i for i, s in enumerate(clips.sources) if s != "synthetic" and int(clips.labels[i]) == k]
        keep += [real[j] for j in torch.randperm(len(real), generator=generator)[:cap].tolist()]
    return clips.subset(sorted(keep))


def kws_train_set(root: str | Path, data_cfg: dict, *, synthetic_root: Path | None = None, seed: int = 0,
                  split: str = "training") -> ClipSet:
    """Training clips: the official training split of `version` and of every `extra_real` version present
    (a missing extra version is skipped with a warning), plus synthetic clips, with `_unknown_` capped and
    `_silence_` cut from the background noise, both relative to the mean number of clips per keyword."""
    labels, samples = data_cfg["labels"], data_cfg["clip_samples"]
    parts = []
    for i, version in enumerate([data_cfg["version"], *data_cfg.get("extra_real", [])]):
        try:
            folder = find_speech_commands(root, version)
        except DatasetNotFoundError:
            if i == 0:
                raise
            log.warning("extra training data %s not found under %s: skipped", version, root)
            continue
        parts.append(load_clips(folder, split_lists(folder)[split], labels, version, samples))
    if synthetic_root is not None and split == "training":
        rel = [f"{p.parent.name}/{p.name}" for p in sorted(Path(synthetic_root).glob("*/*.wav"))]
        parts.append(load_clips(Path(synthetic_root), rel, labels, "synthetic", samples))
    parts = [p for p in parts if len(p)]
    if not parts:
        return ClipSet(torch.zeros(0, samples, dtype=torch.int16), torch.zeros(0, dtype=torch.long), [], [],
                       list(labels), [])
    clips = ClipSet.concat(parts)
    if data_cfg.get("real_per_keyword") is not None and split == "training":
        clips = _cap_real_keywords(clips, data_cfg["real_per_keyword"], seed)
    keywords = [i for i, name in enumerate(labels) if not name.startswith("_")]
    per_keyword = float(sum(int((clips.labels == k).sum()) for k in keywords)) / max(1, len(keywords))
    clips = _balance_unknown(clips, per_keyword, data_cfg.get("unknown_fraction", 1.0), seed)
    if split == "training":
        clips = _repeat_real_keywords(clips, data_cfg.get("real_keyword_repeat", 1))
    silence = int(round(per_keyword * data_cfg.get("silence_fraction", 1.0)))
    if silence:
        noise = background_noise(root, data_cfg["version"])
        clips = ClipSet.concat([clips, silence_clips(noise, silence, labels, samples=samples,
                                                     seed=seed + split_seed(split))])
    return clips


def split_seed(split: str) -> int:
    return {"training": 0, "validation": 1000003, "testing": 2000003}[split]


def kws_test_set(root: str | Path, data_cfg: dict) -> ClipSet:
    """The official test split of `version` plus the test-set archive's `_silence_` clips."""
    labels, samples = data_cfg["labels"], data_cfg["clip_samples"]
    folder = find_speech_commands(root, data_cfg["version"])
    parts = [load_clips(folder, split_lists(folder)["testing"], labels, data_cfg["version"], samples)]
    silence_dir = folder.parent / TEST_SET_FOLDER / SILENCE
    if silence_dir.is_dir():
        parts.append(load_clips(folder.parent / TEST_SET_FOLDER,
                                [f"{SILENCE}/{p.name}" for p in silence_dir.glob("*.wav")], labels,
                                TEST_SET_FOLDER, samples))
    else:
        log.warning("no %s clips in %s: the test set has no silence class", SILENCE, silence_dir)
    return ClipSet.concat(parts)


def kws_eval_set(root: str | Path, labels: list[str], samples: int = 16000,
                 version: str = "speech_commands_v0.02", sample_rate: int = 16000, log=print) -> ClipSet:
    """Clips to evaluate on, from either a Speech Commands data root (its test split, as `kws_test_set`) or any
    folder of `<word>/*.wav` — e.g. your own recordings; words outside `labels` count as `_unknown_`. Clips of
    another rate, stereo clips and clips longer or shorter than `samples` are converted and counted; unreadable
    files are skipped and named (`log` says so, one line per kind)."""
    root = Path(root)
    try:
        find_speech_commands(root, version)
        return kws_test_set(root, {"labels": labels, "clip_samples": samples, "version": version})
    except DatasetNotFoundError:
        pass
    rel = sorted(f"{p.parent.name}/{p.name}" for p in root.glob("*/*.wav") if p.parent.name != NOISE_FOLDER)
    if not rel:
        raise DatasetNotFoundError(
            f"no clips to evaluate under {root}: expected {root}/<word>/*.wav (16 kHz mono 16-bit, 1 s) or a "
            f"Speech Commands data root. {how_to_get(root)}")
    waves, kept, report = [], [], ConformReport(sample_rate, samples)
    for r in rel:
        wave = conform_clip(root / r, sample_rate, samples, report)
        if wave is not None:
            waves.append(wave)
            kept.append(r)
    for line in report.lines():
        log(line)
    if not kept:
        raise DatasetNotFoundError(f"none of the {len(rel)} WAV files under {root} could be read "
                                   f"(first: {report.unreadable[0][0]}: {report.unreadable[0][1]})")
    words = [p.split("/")[0] for p in kept]
    return ClipSet(torch.from_numpy(np.stack(waves)), torch.tensor([label_of(w, labels) for w in words]),
                   kept, [root.name] * len(kept), list(labels), words)


@dataclass
class ConformReport:
    """What conform_clip changed, per kind, for one line each on the console."""
    sample_rate: int
    samples: int
    resampled: dict[int, int] = field(default_factory=dict)      # source rate -> clips
    downmixed: int = 0
    cropped: int = 0
    padded: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        def clips(n):
            return f"{n} clip{'s' if n != 1 else ''}"
        seconds = f"{self.samples / self.sample_rate:g} s"
        out = [f"resampled {clips(n)} from {rate} Hz to {self.sample_rate} Hz"
               for rate, n in sorted(self.resampled.items())]
        if self.downmixed:
            out.append(f"downmixed {self.downmixed} stereo clip{'s' if self.downmixed != 1 else ''} to mono "
                       f"(mean of the channels)")
        if self.cropped:
            out.append(f"cropped {clips(self.cropped)} longer than {seconds} to the first {seconds}")
        if self.padded:
            out.append(f"padded {clips(self.padded)} shorter than {seconds} with silence")
        if self.unreadable:
            names = ", ".join(name for name, _ in self.unreadable[:5]) + (" …" if len(self.unreadable) > 5 else "")
            out.append(f"skipped {len(self.unreadable)} unreadable WAV file{'s' if len(self.unreadable) != 1 else ''}"
                       f" ({names}; first error: {self.unreadable[0][1]})")
        return out


def conform_clip(path: Path, sample_rate: int, samples: int, report: ConformReport) -> np.ndarray | None:
    """A WAV file as the model's input: int16 mono at `sample_rate`, cut or zero-padded to `samples`; None (and
    noted in `report`) when the file cannot be read. A 16-bit mono clip at the right rate is read unchanged."""
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, ValueError, OSError) as err:
        report.unreadable.append((f"{path.parent.name}/{path.name}", str(err).splitlines()[0] if str(err) else
                                  type(err).__name__))
        return None
    if data.shape[1] > 1:
        data = data.mean(axis=1, keepdims=True)
        report.downmixed += 1
    wave = data[:, 0]
    if rate != sample_rate:
        import torchaudio.functional

        wave = torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(wave)), rate, sample_rate).numpy()
        report.resampled[rate] = report.resampled.get(rate, 0) + 1
    if len(wave) > samples:
        report.cropped += 1
    elif len(wave) < samples:
        report.padded += 1
    out = np.zeros(samples, dtype=np.int16)
    clip = np.clip(np.round(wave[:samples] * 32768.0), -32768, 32767).astype(np.int16)
    out[:len(clip)] = clip
    return out
