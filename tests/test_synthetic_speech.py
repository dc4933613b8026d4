"""The synthetic-speech data source: real TTS engines, the Speech Commands layout, determinism and caching."""
import json
import shutil

import numpy as np
import pytest
import soundfile
from tinyzoo.common.data.synthetic_speech import (
    available_voices,
    plan_clips,
    synthesize_words,
    trim,
)
from tinyzoo.common.errors import ToolMissingError

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng not installed (scripts/setup.sh installs it as root)")


@needs_espeak
def test_clips_in_speech_commands_layout_and_cached(tmp_path):
    noise = [np.random.default_rng(0).normal(0, 0.1, 48000).astype(np.float32)]
    kwargs = dict(per_word={"yes": 4, "left over": 2}, engines=("espeak-ng",), seed=3, noise=noise)
    summary = synthesize_words(["yes", "left over"], tmp_path, **kwargs)
    assert summary.clips == 6 and summary.per_word == {"left over": 2, "yes": 4}
    files = sorted(summary.out_root.glob("*/*.wav"))
    assert [f.parent.name for f in files] == ["left-over"] * 2 + ["yes"] * 4
    assert all("_nohash_" in f.name and f.name.startswith("espeak-ng.") for f in files)
    for f in files:
        info = soundfile.info(str(f))
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_16")
        audio = soundfile.read(str(f), dtype="float32")[0]
        assert 10 ** (-25 / 20) * 0.9 < np.abs(audio).max() < 1.0     # a word at the drawn level, not silence
    manifest = json.loads((summary.out_root / "MANIFEST.json").read_text())
    assert len(manifest["clips"]) == 6 and {c["engine"] for c in manifest["clips"]} == {"espeak-ng"}
    assert [p.name for p in tmp_path.iterdir()] == [summary.out_root.name]   # no half-written stage left

    before = {f: f.stat().st_mtime_ns for f in files}
    again = synthesize_words(["yes", "left over"], tmp_path, **kwargs)          # cached: nothing rewritten
    assert again.out_root == summary.out_root and {f: f.stat().st_mtime_ns for f in files} == before
    other = synthesize_words(["yes", "left over"], tmp_path, **{**kwargs, "seed": 4})
    assert other.out_root != summary.out_root


@needs_espeak
def test_same_seed_same_audio(tmp_path):
    a = synthesize_words(["go"], tmp_path / "a", per_word={"go": 3}, engines=("espeak-ng",), seed=1)
    b = synthesize_words(["go"], tmp_path / "b", per_word={"go": 3}, engines=("espeak-ng",), seed=1)
    for fa in sorted(a.out_root.glob("*/*.wav")):
        assert fa.read_bytes() == (b.out_root / fa.parent.name / fa.name).read_bytes()


def test_plans_spread_over_engines_and_voices():
    voices = available_voices(("espeak-ng", "flite", "festival")) if shutil.which("espeak-ng") else []
    if not voices:
        pytest.skip("no TTS engine installed")
    plans = plan_clips(["yes"], {"yes": 200}, voices, seed=0, noise_count=2)
    assert len({p.voice for p in plans}) > 50
    assert 0.3 < np.mean([p.noise >= 0 for p in plans]) < 0.7
    assert all(0.75 <= p.rate <= 1.3 and 14 <= p.resample <= 18 for p in plans)


def test_missing_engines_are_a_clear_error(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ToolMissingError, match="apt-get install espeak-ng"):
        available_voices(("espeak-ng", "flite"))


def test_trim_cuts_leading_and_trailing_silence():
    x = np.zeros(16000)
    x[4000:8000] = np.sin(np.arange(4000) / 3)
    y = trim(x, 16000)
    assert 3900 <= len(y) <= 4200
