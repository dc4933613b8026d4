#!/usr/bin/env python3
"""Deploy time per target (prints figures; not a test): `tinyzoo.deploy` of torchvision's MobileNetV2 1.0 @224 and of
a stock nn.TransformerEncoderLayer (50 tokens x 64), random weights, 8 seeded random calibration inputs.

    .venv/bin/python scripts/benchmark_deploy.py [--target T ...] [--case mobilenet_v2_224|transformer_encoder_layer]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compat_models  # noqa: E402  (the factories of scripts/compatibility.py)

CASES = {"mobilenet_v2_224": (compat_models.mobilenet_v2_224, (1, 3, 224, 224)),
         "transformer_encoder_layer": (compat_models.transformer_encoder_layer, (1, 50, 64))}


def main() -> None:
    import tinyzoo

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    parser.add_argument("--target", action="append")
    args = parser.parse_args()
    targets = args.target or ["ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u85-256"]
    figures = {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "cases": {}}
    for name in args.case or list(CASES):
        factory, shape = CASES[name]
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            metrics = tinyzoo.deploy(factory(), [torch.zeros(shape)], targets=targets, out_dir=Path(tmp), name=name,
                                 random_samples=8, log=lambda *a: None)
            total = time.perf_counter() - start
        figures["cases"][name] = {
            "total_seconds": round(total, 1), "ptq_seconds": round(metrics["timings"]["ptq_seconds"], 1),
            "fidelity_seconds": round(metrics["timings"]["verify_seconds"], 1),
            "export_seconds": {t: r["export_seconds"] for t, r in metrics["targets"].items()},
            "inference_time_ms": {t: round(r["inference_time_ms"], 3) for t, r in metrics["targets"].items()}}
        print(name, json.dumps(figures["cases"][name]), flush=True)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
