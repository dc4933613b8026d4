"""Build vision/mobilenet_vww end to end: Visual Wake Words → preprocessing → train → int8 → Ethos-U .pte per target →
TOSA-reference verification → Vela report → model card. The chain is `common.vision.build`; this recipe is
its model (model.py) and its config (config.yaml).

    tinyzoo build vision/mobilenet_vww --data-root DIR        # DIR holds vww96/ (non_person/, person/)
"""
from __future__ import annotations

from pathlib import Path

from tinyzoo.common import vision

NAME = "vision/mobilenet_vww"
HERE = Path(__file__).resolve().parent


def main(argv=None) -> Path:
    return vision.build(NAME, HERE, argv, data_hint="dir with vww96/")


if __name__ == "__main__":
    main()
