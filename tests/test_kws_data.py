"""Speech Commands loading, the 12-class mapping, splits, balancing, evaluation folders and augmentation, on
the real clips of the bundled sample and on small clips written by the tests."""
import numpy as np
import pytest
import soundfile
import torch
from tinyzoo.common.data.audio_augment import WaveformAugment
from tinyzoo.common.data.speech_commands import (
    ClipSet,
    kws_eval_set,
    kws_test_set,
    kws_train_set,
    silence_clips,
)
from tinyzoo.common.errors import DatasetNotFoundError

from tests.conftest import SAMPLE

LABELS = ["_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
DATA = {"labels": LABELS, "clip_samples": 16000, "version": "speech_commands_v0.02", "extra_real": [],
        "unknown_fraction": 1.0, "silence_fraction": 1.0}


def write_clip(path, seconds=1.0, value=1000):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.full(int(16000 * seconds), value, np.int16), 16000, subtype="PCM_16")


def test_bundled_test_split():
    test = kws_test_set(SAMPLE, DATA)
    summary = test.summary()
    assert summary["clips"] == 112
    assert summary["per_class"] == {"_silence_": 8, "_unknown_": 24, **{w: 8 for w in LABELS[2:]}}
    assert test.waveforms.dtype == torch.int16 and test.waveforms.shape == (112, 16000)
    assert all(i.split("/")[0] in ("_silence_", *LABELS[2:]) or test.labels[k] == 1 for k, i in enumerate(test.ids))


def test_never_trains_on_the_test_or_validation_split(tmp_path):
    """A data root with all three official splits (and a second version as extra real data): no test or
    validation clip of either version reaches the training set, and the test set is exactly the test list."""
    listed = {}
    for version in ("speech_commands_v0.02", "speech_commands_v0.01"):
        root = tmp_path / "SpeechCommands" / version
        for word in ("yes", "no", "cat"):
            for speaker in range(6):
                write_clip(root / word / f"{version[-1]}{speaker}_nohash_0.wav", value=100 + speaker)
        listed[version] = {
            "testing": [f"yes/{version[-1]}0_nohash_0.wav", f"no/{version[-1]}1_nohash_0.wav",
                        f"cat/{version[-1]}2_nohash_0.wav"],
            "validation": [f"yes/{version[-1]}3_nohash_0.wav", f"cat/{version[-1]}4_nohash_0.wav"]}
        for split, ids in listed[version].items():
            (root / f"{split}_list.txt").write_text("\n".join(ids) + "\n")
    write_clip(tmp_path / "SpeechCommands" / "speech_commands_v0.02" / "_background_noise_" / "noise.wav", seconds=3)
    data = {**DATA, "labels": ["_silence_", "_unknown_", "yes", "no"], "extra_real": ["speech_commands_v0.01"]}
    train = kws_train_set(tmp_path, data)
    held_out = {i for v in listed.values() for split in v.values() for i in split}
    real_train = [i for i in train.ids if not i.startswith("_")]
    assert real_train and not held_out & set(real_train)
    assert len(set(real_train)) == 2 * (18 - 5)      # every other clip of both versions trains
    validation = kws_train_set(tmp_path, data, split="validation")
    assert ({i for i in validation.ids if not i.startswith("_")}
            <= held_out - {i for v in listed.values() for i in v["testing"]})
    test = kws_test_set(tmp_path, data)
    assert sorted(test.ids) == sorted(listed["speech_commands_v0.02"]["testing"])


def test_missing_data_says_where_and_how(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        kws_test_set(tmp_path / "nothing", DATA)
    assert str(tmp_path / "nothing") in str(err.value) and "--download" in str(err.value)


def test_train_set_balances_unknown_round_robin_and_adds_silence(tmp_path):
    root = tmp_path / "SpeechCommands" / "speech_commands_v0.02"
    for i in range(6):
        write_clip(root / "yes" / f"s{i}_nohash_0.wav")
        write_clip(root / "no" / f"s{i}_nohash_0.wav")
    for i in range(20):
        write_clip(root / "eight" / f"e{i}_nohash_0.wav")
    for word in ("cat", "dog"):
        write_clip(root / word / "x_nohash_0.wav")
    write_clip(root / "yes" / "t_nohash_0.wav")
    (root / "testing_list.txt").write_text("yes/t_nohash_0.wav\n")
    (root / "validation_list.txt").write_text("")
    write_clip(root / "_background_noise_" / "noise.wav", seconds=3, value=300)
    data = {**DATA, "labels": ["_silence_", "_unknown_", "yes", "no"], "unknown_fraction": 1.0}
    train = kws_train_set(tmp_path, data)
    s = train.summary()
    assert "yes/t_nohash_0.wav" not in train.ids                     # test clip excluded
    assert s["per_class"] == {"_silence_": 6, "_unknown_": 6, "yes": 6, "no": 6}
    unknown_words = [w for w, lab in zip(train.words, train.labels.tolist()) if lab == 1]
    assert {"cat", "dog"} <= set(unknown_words)                      # rare words are not crowded out by eight
    assert s["per_source"]["background_noise"] == 6


def test_silence_clips_are_noise_excerpts():
    noise = [np.linspace(-0.5, 0.5, 48000, dtype=np.float32)]
    clips = silence_clips(noise, 4, LABELS, samples=16000, seed=1)
    assert (clips.labels == 0).all() and clips.waveforms.abs().max() <= 0.5 * 32768
    assert torch.equal(clips.waveforms, silence_clips(noise, 4, LABELS, samples=16000, seed=1).waveforms)


def test_eval_set_from_a_folder_of_recordings(tmp_path):
    write_clip(tmp_path / "yes" / "me_1.wav")
    write_clip(tmp_path / "hello" / "me_2.wav", seconds=0.5)         # another word, shorter: padded
    write_clip(tmp_path / "_background_noise_" / "n.wav", seconds=2)
    clips = kws_eval_set(tmp_path, LABELS)
    assert clips.ids == ["hello/me_2.wav", "yes/me_1.wav"]
    assert clips.labels.tolist() == [1, 2]
    assert clips.waveforms.shape == (2, 16000) and int(clips.waveforms[0, 9000]) == 0


def test_eval_set_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="no clips to evaluate"):
        kws_eval_set(tmp_path, LABELS)


def test_clipset_subset_and_concat():
    test = kws_test_set(SAMPLE, DATA)
    a, b = test.subset([0, 1]), test.subset([5])
    both = ClipSet.concat([a, b])
    assert both.ids == [test.ids[0], test.ids[1], test.ids[5]]
    x, y = both.batch([2])
    assert torch.equal(x[0], test[5][0]) and y.tolist() == [int(test.labels[5])]


def test_waveform_augment_is_seeded_and_reaches_the_snr():
    clean = torch.sin(torch.arange(16000) / 5.0)[None].repeat(4, 1) * 0.5
    noise = [torch.randn(48000, generator=torch.Generator().manual_seed(0))]
    aug = WaveformAugment(noise, noise_prob=1.0, noise_snr_db=(10, 10))
    noisy = aug(clean, generator=torch.Generator().manual_seed(3))
    assert torch.equal(noisy, aug(clean, generator=torch.Generator().manual_seed(3)))
    residual = noisy - clean
    snr = 10 * torch.log10(clean.pow(2).mean(1) / residual.pow(2).mean(1))
    assert torch.allclose(snr, torch.full((4,), 10.0), atol=0.2)


def test_time_shift_moves_the_signal():
    x = torch.zeros(1, 100)
    x[0, 50] = 1.0
    aug = WaveformAugment([], sample_rate=1000, time_shift_ms=10)
    y = aug.shift(x, torch.Generator().manual_seed(0))
    assert y.sum() == 1.0 and abs(int(y.argmax()) - 50) <= 10


def test_real_keyword_clips_are_repeated(tmp_path):
    root = tmp_path / "SpeechCommands" / "speech_commands_v0.02"
    for i in range(3):
        write_clip(root / "yes" / f"s{i}_nohash_0.wav")
    write_clip(root / "cat" / "c_nohash_0.wav")
    (root / "testing_list.txt").write_text("")
    write_clip(root / "_background_noise_" / "noise.wav", seconds=3)
    data = {**DATA, "labels": ["_silence_", "_unknown_", "yes"], "real_keyword_repeat": 4, "silence_fraction": 0}
    train = kws_train_set(tmp_path, data)
    assert train.summary()["per_class"] == {"_silence_": 0, "_unknown_": 1, "yes": 12}
