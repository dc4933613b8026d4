"""Build vision/resnet8_cifar10 end to end: CIFAR-10 → preprocessing → train → int8 → Ethos-U .pte per target →
TOSA-reference verification → Vela report → model card. The chain is `common.vision.build`; this recipe is
its model (model.py) and its config (config.yaml).

    tinyzoo build vision/resnet8_cifar10 --data-root DIR        # DIR holds cifar-10-batches-py/
"""
from __future__ import annotations

from pathlib import Path

from tinyzoo.common import vision

NAME = "vision/resnet8_cifar10"
HERE = Path(__file__).resolve().parent


def main(argv=None) -> Path:
    return vision.build(NAME, HERE, argv, data_hint="dir with cifar-10-batches-py/")


if __name__ == "__main__":
    main()
