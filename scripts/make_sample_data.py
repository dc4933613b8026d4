"""Maintainer tool: cut the small real Speech Commands sample the repository ships (zoo/data/).

The sample lets a fresh clone run the whole chain with no download: a few official test-split clips per
class and 10-s excerpts of each background-noise recording. CC BY 4.0 — attribution in its LICENSE.

    python scripts/make_sample_data.py /path/to/datasets   # a root holding SpeechCommands/
"""
import random
import shutil
import sys
from pathlib import Path

import soundfile as sf

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
PER_KEYWORD, UNKNOWN, SILENCE, NOISE_SECONDS = 8, 24, 8, 10


def main(source_root: Path, dest_root: Path) -> None:
    src = source_root / "SpeechCommands"
    v2 = src / "speech_commands_v0.02"
    dst = dest_root / "SpeechCommands"
    if dst.exists():
        shutil.rmtree(dst)
    rng = random.Random(0)
    testing = [line.strip() for line in (v2 / "testing_list.txt").read_text().splitlines() if line.strip()]
    chosen = []
    for word in KEYWORDS:
        chosen += sorted(rng.sample([p for p in testing if p.split("/")[0] == word], PER_KEYWORD))
    others = [p for p in testing if p.split("/")[0] not in KEYWORDS]
    chosen += sorted(rng.sample(others, UNKNOWN))
    for rel in chosen:
        (dst / "speech_commands_v0.02" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(v2 / rel, dst / "speech_commands_v0.02" / rel)
    (dst / "speech_commands_v0.02" / "testing_list.txt").write_text("\n".join(chosen) + "\n")
    (dst / "speech_commands_v0.02" / "validation_list.txt").write_text("")
    noise_dir = dst / "speech_commands_v0.02" / "_background_noise_"
    noise_dir.mkdir(parents=True)
    for wav in sorted((v2 / "_background_noise_").glob("*.wav")):
        audio, rate = sf.read(wav, dtype="int16")
        start = (len(audio) - NOISE_SECONDS * rate) // 2
        sf.write(noise_dir / wav.name, audio[start:start + NOISE_SECONDS * rate], rate, subtype="PCM_16")
    silence_src = src / "speech_commands_test_set_v0.02" / "_silence_"
    silence_dst = dst / "speech_commands_test_set_v0.02" / "_silence_"
    silence_dst.mkdir(parents=True)
    for wav in sorted(rng.sample(sorted(silence_src.glob("*.wav")), SILENCE)):
        shutil.copy2(wav, silence_dst / wav.name)
    for folder in ("speech_commands_v0.02", "speech_commands_test_set_v0.02"):
        shutil.copy2(src / "speech_commands_v0.02" / "LICENSE", dst / folder / "LICENSE")
    (dst / "README.md").write_text(
        "# Speech Commands sample (shipped with tinyzoo)\n\n"
        f"{len(chosen)} clips of the official v0.02 **test** split ({PER_KEYWORD} per keyword, {UNKNOWN} other "
        f"words), {SILENCE} `_silence_` clips of the official test-set archive, and {NOISE_SECONDS}-s excerpts "
        "of the six `_background_noise_` recordings, in torchaudio's SPEECHCOMMANDS layout. Audio files are "
        "unmodified except the noise excerpts (cut).\n\n"
        "Enough to run the chain end to end on a fresh clone (`--profile quick`) and for the tests; "
        "far too little for a good model. It is a test split: never train or calibrate on its clips.\n\n"
        "Licence: CC BY 4.0 — Warden, P. (2018). Speech Commands: A Dataset for Limited-Vocabulary Speech "
        "Recognition. arXiv:1804.03209. See LICENSE in each folder.\n\n"
        "Made by `scripts/make_sample_data.py`.\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent.parent / "zoo" / "data" / "speech_commands_sample")
