"""Build text/tiny_lm end to end: TinyStories → tokenizer → train → int8 → Ethos-U .pte per target →
TOSA-reference perplexity and int8 generation → Vela report → model card. The chain is `common.text.build`;
this recipe is its model (model.py) and its config (config.yaml).

    tinyzoo build text/tiny_lm --data-root DIR        # DIR holds the TinyStories .txt files (or tinystories/)
"""
from __future__ import annotations

from pathlib import Path

from tinyzoo.common import text

NAME = "text/tiny_lm"
HERE = Path(__file__).resolve().parent


def main(argv=None) -> Path:
    return text.build(NAME, HERE, argv, data_hint="dir with the TinyStories .txt files")


if __name__ == "__main__":
    main()
