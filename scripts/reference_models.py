#!/usr/bin/env python3
"""Maintainers: the reference models that enter the zoo through `tinyzoo deploy` with NPU figures only —
untrained, so their cards claim no accuracy. Deploys each for the four usual targets into build/reference/ and
publishes its card (and metrics) to docs/references/, an explicit step like every publication.

    .venv/bin/python scripts/reference_models.py            # MobileNetV2 1.0 @224 (about 5 minutes on 2 cores)
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compat_models  # noqa: E402
from tinyzoo.common.layout import REPO  # noqa: E402  (the checkout these maintainer scripts run in)

TARGETS = ["ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u85-256"]
REFERENCES = {  # name: (factory, input shape)
    "reference/mobilenet_v2_224": (compat_models.mobilenet_v2_224, (1, 3, 224, 224)),
}
WEIGHTS = ("random (torchvision's initialisation, batch-norm statistics from random images; untrained: no accuracy "
           "is claimed)")


def main() -> None:
    import tinyzoo
    from tinyzoo.common import card

    for name, (factory, shape) in REFERENCES.items():
        out = REPO / "build" / name
        metrics = tinyzoo.deploy(factory(), [torch.zeros(shape)], targets=TARGETS, out_dir=out, name=name,
                             weights=WEIGHTS, random_samples=8,
                             reproduce="scripts/reference_models.py")
        print(card.write_card(metrics, REPO / "docs" / "references"))


if __name__ == "__main__":
    main()
