#!/usr/bin/env python
"""Your own keyword, from scratch vs from MLPerf Tiny's reference DS-CNN (`--init`), the same budget: two
`tinyzoo build kws/ds_cnn` runs with the labels [_silence_, _unknown_, WORD], synthetic speech of WORD and at most
`--real` real clips of it, then each one's detection rate on the real test clips of WORD and its false accepts on
the real clips of other words, as the NPU computes it (TOSA reference). Every figure comes from the two builds'
metrics.json (their confusion matrices).

    python scripts/custom_keyword.py --data-root DIR                 # build both (a finished build resumes) and print
    python scripts/custom_keyword.py --data-root DIR --write         # and write the table into README.md
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tinyzoo import cli
from tinyzoo.common.card_view import pct, table
from tinyzoo.common.layout import REPO

REFERENCE = "kws/ds_cnn.mlperf"
BEGIN, END = "<!-- custom-keyword: begin (scripts/custom_keyword.py --write) -->", "<!-- custom-keyword: end -->"


def build_args(word: str, data_root: Path, epochs: int, real: int, build_dir: Path, init: bool) -> list[str]:
    return ["build", "kws/ds_cnn", "--data-root", str(data_root), "--build-dir", str(build_dir),
            "--set", f"data.labels=[_silence_, _unknown_, {word}]", "--set", f"data.real_per_keyword={real}",
            "--set", f"train.epochs={epochs}", "--set", "quantize.qat.enabled=false", "--target", "ethos-u55-128",
            "--new-calibration",
            *(["--init", REFERENCE] if init else ["--set", "model.args.num_classes=3"])]


def row(name: str, metrics: dict, word: str) -> list[str]:
    """Detection rate of `word`, other words taken for it, and 3-class accuracy, from the TOSA confusion matrix."""
    confusion = metrics["confusion"]
    labels, matrix = confusion["labels"], confusion["matrix"]
    k, unknown = labels.index(word), labels.index("_unknown_")
    hit, clips = matrix[k][k], sum(matrix[k])
    false, others = matrix[unknown][k], sum(matrix[unknown])
    target, accuracy = next(iter(metrics["accuracy"]["tosa_int8"].items()))
    return [name, f"{pct(hit / clips)} ({hit} / {clips:,})", f"{pct(false / others)} ({false} / {others:,})",
            pct(accuracy)]


def render(word: str, runs: dict[str, dict], real: int, epochs: int) -> str:
    scratch, init = runs["scratch"], runs["init"]
    test = init["data"]["test"]["per_class"]
    trained = init["data"]["train"]["per_class"].get(word, 0)
    return "\n".join([
        BEGIN,
        f"Measured for `{word}`: {trained:,} training clips of it (synthetic speech, at most {real} real), real "
        f"clips of other words as `_unknown_`, {epochs} epochs, PTQ; as the NPU computes it (TOSA reference, "
        f"{next(iter(init['targets']))}) on the real test clips at hand: {test.get(word, 0):,} of `{word}`, "
        f"{test.get('_unknown_', 0):,} of other words, {test.get('_silence_', 0):,} of silence.", "",
        table(["start", f"`{word}` detected", f"other words taken for `{word}`", "accuracy (3 classes)"],
              [row("from scratch (the recipe's own front end)", scratch, word),
               row(f"`--init {REFERENCE}` (its front end)", init, word)]),
        "",
        "The same data, epochs and seed; `--init` also brings the reference's front end. From the two builds' "
        "metrics.json: `python scripts/custom_keyword.py --data-root DIR --write`.",
        END,
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True, help="holds SpeechCommands/ (Speech Commands)")
    parser.add_argument("--word", default="eight")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--real", type=int, default=0, help="at most this many real training clips of the word")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "custom_keyword")
    parser.add_argument("--write", action="store_true", help=f"write the table into README.md between {BEGIN}")
    args = parser.parse_args(argv)
    runs = {}
    for name, init in (("scratch", False), ("init", True)):
        folder = args.out / args.word / name
        code = cli.main(build_args(args.word, args.data_root, args.epochs, args.real, folder, init))
        if code:
            return code
        runs[name] = json.loads((folder / "metrics.json").read_text())
    text = render(args.word, runs, args.real, args.epochs)
    print(text)
    if args.write:
        readme = REPO / "README.md"
        old = readme.read_text()
        if BEGIN not in old:
            print(f"README.md has no {BEGIN} marker", file=sys.stderr)
            return 2
        readme.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: text, old, flags=re.S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
