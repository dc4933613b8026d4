"""Build kws/kwt (Keyword Transformer) end to end: Speech Commands (+ synthetic speech) → MFCC → train → int8 → Ethos-U .pte per
target → TOSA-reference verification → Vela report → model card. The chain is `common.kws.build`; this
recipe is its model (model.py) and its config (config.yaml).

    tinyzoo build kws/kwt --data-root DIR            # DIR holds SpeechCommands/ (torchaudio layout)
"""
from __future__ import annotations

from pathlib import Path

from tinyzoo.common import kws

NAME = "kws/kwt"
HERE = Path(__file__).resolve().parent


def main(argv=None) -> Path:
    return kws.build(NAME, HERE, argv)


if __name__ == "__main__":
    main()
