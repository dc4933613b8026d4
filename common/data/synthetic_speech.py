"""Synthetic keyword clips from the text-to-speech engines Debian ships, written in the Speech Commands layout
(`<word>/<voice>_nohash_<n>.wav`, 16 kHz, mono, 16-bit, one second), so any word list becomes a KWS training set
without recordings.

Every clip draws its own voice (espeak-ng accents × voice variants, flite's voices, festival's voices), speaking
rate and pitch (passed to the engine), then a resampling factor (speed and formant shift together), a random
position in the second, a level, and with some probability room reverberation (an exponentially decaying
noise impulse response) and background noise at a random SNR. All draws come from one seed, and the set is
cached under a hash of every parameter, so a build reuses it and a changed parameter rebuilds it.

    apt-get install espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
from tinyzoo.common.errors import ConfigError, ToolMissingError
from tqdm import tqdm

log = logging.getLogger(__name__)
ALGORITHM = 2   # bump when the synthesis below changes, so cached sets are rebuilt

# Words for the _unknown_ class: Speech Commands' other words plus words that sound close to the keywords
# (but are not homophones of them), so the model learns to reject near misses.
UNKNOWN_WORDS = (
    "backward", "bed", "bird", "cat", "dog", "eight", "five", "follow", "forward", "four", "happy", "house",
    "learn", "marvin", "nine", "one", "seven", "sheila", "six", "three", "tree", "two", "visual", "wow", "zero",
    "hello", "okay", "please", "thanks", "music", "water", "window", "turn", "play", "next", "cancel", "morning",
    "number", "open", "close", "yellow", "table", "phone", "later", "maybe", "river", "paper", "kitchen", "little",
)

ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
                  "en-us-nyc")
ESPEAK_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
                   "klatt3", "klatt4", "croak", "grandma", "grandpa", "john", "linda", "max", "paul")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
ENGINE_WEIGHTS = {"espeak-ng": 0.5, "flite": 0.3, "festival": 0.2}
ENGINE_COMMANDS = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "festival"}


@dataclass(frozen=True)
class Voice:
    engine: str
    name: str

    @property
    def id(self) -> str:
        """File-name safe speaker id (no underscores: Speech Commands splits ids at `_nohash_`)."""
        return f"{self.engine}.{self.name}".replace("_", "-")


def festival_voice_installed(name: str) -> bool:
    return any(Path("/usr/share/festival/voices").glob(f"*/{name}"))


def available_voices(engines: tuple[str, ...]) -> list[Voice]:
    voices = []
    for engine in engines:
        if engine not in ENGINE_COMMANDS:
            raise ConfigError(f"unknown TTS engine {engine!r}; known: {', '.join(ENGINE_COMMANDS)}")
        if shutil.which(ENGINE_COMMANDS[engine]) is None:
            log.warning("TTS engine %s is not installed: skipped (apt-get install %s)", engine, engine)
            continue
        if engine == "espeak-ng":
            voices += [Voice(engine, f"{a}+{v}" if v else a) for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
        elif engine == "flite":
            voices += [Voice(engine, v) for v in FLITE_VOICES]
        else:
            voices += [Voice(engine, v) for v in FESTIVAL_VOICES if festival_voice_installed(v)]
    if not voices:
        raise ToolMissingError(
            f"no text-to-speech engine of {', '.join(engines)} is installed. Install them with "
            f"`sudo apt-get install espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts` "
            f"(scripts/setup.sh does it when run as root), or disable data.synthetic in the recipe config.")
    return voices


@dataclass(frozen=True)
class ClipPlan:
    """Everything that determines one synthetic clip."""
    word: str
    index: int
    voice: Voice
    rate: float           # engine speaking rate, 1.0 = the voice's default
    pitch: float          # engine pitch, 1.0 = the voice's default
    resample: int         # play 16 kHz audio resampled to resample × 1 kHz: < 16 faster & higher, > 16 slower
    level_db: float       # peak level, dBFS
    tilt_db: float        # spectral tilt per octave around 1 kHz (microphone / channel colour)
    lowpass_hz: float     # band limit of the channel
    position: float       # where in the free part of the second the word starts, 0..1
    reverb_rt60: float    # 0 = dry
    noise: int            # index into the noise bank, -1 = none
    noise_offset: float
    snr_db: float

    @property
    def relpath(self) -> str:
        return f"{self.word.replace(' ', '-')}/{self.voice.id}_nohash_{self.index}.wav"


def plan_clips(words: list[str], per_word: dict[str, int], voices: list[Voice], seed: int,
               noise_count: int) -> list[ClipPlan]:
    by_engine: dict[str, list[Voice]] = {}
    for v in voices:
        by_engine.setdefault(v.engine, []).append(v)
    engines = sorted(by_engine)
    weights = np.array([ENGINE_WEIGHTS[e] for e in engines])
    weights /= weights.sum()
    plans = []
    for word in words:
        word_seed = int.from_bytes(hashlib.sha256(f"{seed}:{word}".encode()).digest()[:8], "little")
        rng = np.random.default_rng(word_seed)
        for i in range(per_word[word]):
            engine = engines[rng.choice(len(engines), p=weights)]
            voice = by_engine[engine][rng.integers(len(by_engine[engine]))]
            noisy = noise_count > 0 and rng.random() < 0.5
            plans.append(ClipPlan(
                word=word, index=i, voice=voice, rate=float(rng.uniform(0.75, 1.3)),
                pitch=float(rng.uniform(0.8, 1.25)), resample=int(rng.integers(14, 19)),
                level_db=float(rng.uniform(-24, -1)), tilt_db=float(rng.uniform(-4, 3)),
                lowpass_hz=float(rng.uniform(3500, 8000)), position=float(rng.random()),
                reverb_rt60=float(rng.uniform(0.15, 0.7)) if rng.random() < 0.4 else 0.0,
                noise=int(rng.integers(noise_count)) if noisy else -1, noise_offset=float(rng.random()),
                snr_db=float(rng.uniform(5, 30))))
    return plans


# --- engines: text → (samples, rate) -------------------------------------------------------------------------

def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def speak_espeak(plan: ClipPlan) -> tuple[np.ndarray, int]:
    out = _run(["espeak-ng", "-v", plan.voice.name, "-s", str(int(175 * plan.rate)), "-p", str(int(50 * plan.pitch)),
                "--stdout", plan.word]).stdout
    data, rate = soundfile.read(io.BytesIO(out), dtype="float32")
    return data, rate


def speak_flite(plan: ClipPlan) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.wav"
        _run(["flite", "-voice", plan.voice.name, "--setf", f"duration_stretch={1 / plan.rate:.3f}",
              "--setf", f"int_f0_target_mean={110 * plan.pitch:.1f}", "-t", plan.word, "-o", str(path)])
        data, rate = soundfile.read(str(path), dtype="float32")
    return data, rate


def speak_festival(plans: list[ClipPlan], workdir: Path) -> dict[ClipPlan, tuple[np.ndarray, int]]:
    """One festival process for many utterances (its start-up costs more than an utterance)."""
    lines = []
    for k, plan in enumerate(plans):
        word = plan.word.replace('"', "")
        lines.append(f"(voice_{plan.voice.name})")
        lines.append(f"(Parameter.set 'Duration_Stretch {1 / plan.rate:.3f})")
        lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{word}")) "{workdir}/f{k}.wav" \'riff)')
    script = workdir / "synth.scm"
    script.write_text("\n".join(lines) + "\n")
    _run(["festival", "-b", str(script)])
    return {plan: soundfile.read(str(workdir / f"f{k}.wav"), dtype="float32") for k, plan in enumerate(plans)}


# --- post-processing: engine audio → one 16 kHz second ---------------------------------------------------------

def resample(x: np.ndarray, orig: int, new: int) -> np.ndarray:
    import torch
    import torchaudio.functional as AF

    if orig == new:
        return x
    return AF.resample(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), orig, new).numpy()


def trim(x: np.ndarray, rate: int, threshold_db: float = -40.0) -> np.ndarray:
    """Cut leading and trailing silence (10-ms frames quieter than threshold_db below the loudest)."""
    hop = rate // 100
    frames = len(x) // hop
    if frames == 0:
        return x
    rms = np.sqrt((x[:frames * hop].reshape(frames, hop) ** 2).mean(1) + 1e-12)
    loud = np.nonzero(20 * np.log10(rms / rms.max()) > threshold_db)[0]
    return x[loud[0] * hop:(loud[-1] + 1) * hop]


def channel(x: np.ndarray, rate: int, tilt_db_per_octave: float, lowpass_hz: float) -> np.ndarray:
    """A microphone/channel colour: a spectral tilt around 1 kHz, a 100 Hz high-pass and a smooth low-pass."""
    spectrum = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / rate)
    octaves = np.log2(np.maximum(f, 50.0) / 1000.0)
    gain = (10 ** (tilt_db_per_octave * octaves / 20) / np.sqrt(1 + (f / lowpass_hz) ** 8)
            / np.sqrt(1 + (100.0 / np.maximum(f, 1.0)) ** 4))
    return np.fft.irfft(spectrum * gain, len(x))


def room_impulse_response(rt60: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(rt60 * rate)
    decay = np.exp(-6.9078 * np.arange(n) / n)            # -60 dB at rt60
    rir = rng.standard_normal(n) * decay * 0.3
    rir[0] = 1.0                                           # direct path
    return rir / np.sqrt((rir ** 2).sum())


def render(plan: ClipPlan, speech: np.ndarray, rate: int, *, sample_rate: int, clip_samples: int,
           noise: list[np.ndarray]) -> np.ndarray:
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(plan.relpath.encode()).digest()[:8], "little"))
    x = resample(speech, rate, sample_rate)
    x = resample(x, sample_rate, plan.resample * 1000) if plan.resample != 16 else x
    x = trim(x, sample_rate)
    limit = int(clip_samples * 0.98)
    if len(x) > limit:                                     # too long to fit: speed it up to fit
        x = resample(x, len(x), limit)[:limit]
    x = channel(x, sample_rate, plan.tilt_db, plan.lowpass_hz)
    if plan.reverb_rt60 > 0:
        rir = room_impulse_response(plan.reverb_rt60, sample_rate, rng)
        size = 1 << int(np.ceil(np.log2(len(x) + len(rir))))
        x = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(rir, size), size)[:len(x) + len(rir) // 4]
    x = x / (np.abs(x).max() + 1e-9) * 10 ** (plan.level_db / 20)
    clip = np.zeros(clip_samples, dtype=np.float64)
    length = min(len(x), clip_samples)
    start = int(plan.position * (clip_samples - length))
    clip[start:start + length] = x[:length]
    if plan.noise >= 0:
        rec = noise[plan.noise]
        offset = int(plan.noise_offset * (len(rec) - clip_samples))
        piece = rec[offset:offset + clip_samples]
        speech_rms = np.sqrt((x[:length] ** 2).mean() + 1e-12)
        clip[:len(piece)] += piece * speech_rms / (np.sqrt((piece ** 2).mean()) + 1e-9) / 10 ** (plan.snr_db / 20)
    return np.clip(clip * 32767, -32768, 32767).astype(np.int16)


# --- the data source --------------------------------------------------------------------------------------------

@dataclass
class SynthesisSummary:
    out_root: Path
    clips: int
    per_word: dict[str, int]
    per_engine: dict[str, int]
    voices: dict[str, int]
    parameters: dict = field(default_factory=dict)

    def describe(self) -> dict:
        """What the card says about the synthetic part of the training data."""
        return {"clips": self.clips, "words": len(self.per_word), "per_engine": self.per_engine,
                "voices": len(self.voices), "voices_per_engine": {
                    e: sorted({v.split(":", 1)[1] for v in self.voices if v.startswith(e + ":")})
                    for e in self.per_engine},
                "variation": VARIATION, "parameters": self.parameters}


VARIATION = ("per clip: voice; engine speaking rate x0.75-1.3 and pitch x0.8-1.25 (festival: rate only); "
             "resampling 14-18 kHz played at 16 kHz (speed and formants +-12 %); random position in the second; "
             "peak level -24 to -1 dBFS; channel colour (spectral tilt -4 to +3 dB/octave, 100 Hz high-pass, "
             "low-pass at 3.5-8 kHz); room reverberation (RT60 0.15-0.7 s) on 40 %; background noise at "
             "5-30 dB SNR on 50 %")


def _fingerprint(parameters: dict, noise: list[np.ndarray]) -> str:
    noise_sig = [(len(n), round(float(np.abs(n).sum()), 3)) for n in noise]
    blob = json.dumps({**parameters, "noise": noise_sig, "algorithm": ALGORITHM}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def synthesize_words(words: list[str], cache_root: str | Path, *, per_word: dict[str, int],
                     engines: tuple[str, ...] = ("espeak-ng", "flite", "festival"), seed: int = 0,
                     sample_rate: int = 16000, clip_samples: int = 16000, noise: list[np.ndarray] = (),
                     workers: int | None = None) -> SynthesisSummary:
    """Synthesise `per_word[w]` clips of every word into `<cache_root>/<parameter hash>/` (reused if present)."""
    voices = available_voices(tuple(engines))
    parameters = {"words": list(words), "per_word": {w: per_word[w] for w in words}, "seed": seed,
                  "sample_rate": sample_rate, "clip_samples": clip_samples,
                  "voices": [v.id for v in voices]}
    out_root = Path(cache_root) / _fingerprint(parameters, list(noise))
    manifest_path = out_root / "MANIFEST.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
    else:
        plans = plan_clips(list(words), per_word, voices, seed, len(noise))
        manifest = _synthesize(plans, out_root, parameters, sample_rate, clip_samples, list(noise), workers)
    clips = manifest["clips"]
    count = lambda key: {k: sum(1 for c in clips if c[key] == k) for k in sorted({c[key] for c in clips})}
    return SynthesisSummary(out_root=out_root, clips=len(clips), per_word=count("word"), per_engine=count("engine"),
                            voices=count_voices(clips),
                            parameters={k: v for k, v in parameters.items() if k != "voices"})


def count_voices(clips: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in clips:
        key = f"{c['engine']}:{c['voice']}"
        out[key] = out.get(key, 0) + 1
    return out


def _synthesize(plans, out_root: Path, parameters, sample_rate, clip_samples, noise, workers) -> dict:
    out_root.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=out_root.name + ".", dir=out_root.parent))
    try:
        festival = [p for p in plans if p.voice.engine == "festival"]
        festival_audio = speak_festival(festival, stage) if festival else {}

        def one(plan: ClipPlan) -> dict:
            if plan.voice.engine == "festival":
                speech, rate = festival_audio[plan]
            else:
                speech, rate = (speak_espeak if plan.voice.engine == "espeak-ng" else speak_flite)(plan)
            clip = render(plan, speech, rate, sample_rate=sample_rate, clip_samples=clip_samples, noise=noise)
            path = stage / plan.relpath
            path.parent.mkdir(exist_ok=True)
            soundfile.write(str(path), clip, sample_rate, subtype="PCM_16")
            return {"path": plan.relpath, "word": plan.word, "engine": plan.voice.engine, "voice": plan.voice.name,
                    "rate": round(plan.rate, 3), "pitch": round(plan.pitch, 3), "resample_khz": plan.resample,
                    "level_db": round(plan.level_db, 1), "tilt_db": round(plan.tilt_db, 1),
                    "lowpass_hz": round(plan.lowpass_hz), "reverb_rt60": round(plan.reverb_rt60, 2),
                    "noise": plan.noise, "snr_db": round(plan.snr_db, 1) if plan.noise >= 0 else None}

        with ThreadPoolExecutor(workers or os.cpu_count() or 2) as pool:
            clips = list(tqdm(pool.map(one, plans), total=len(plans), desc="synthetic speech", unit="clip",
                              leave=False))
        for f in stage.glob("f*.wav"):
            f.unlink()
        (stage / "synth.scm").unlink(missing_ok=True)
        manifest = {"parameters": parameters, "algorithm": ALGORITHM, "clips": clips}
        (stage / "MANIFEST.json").write_text(json.dumps(manifest, indent=1))
        if out_root.exists():
            shutil.rmtree(out_root)
        stage.rename(out_root)
        return manifest
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
