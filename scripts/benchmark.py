"""Speed figures for the chain (prints them; not a test): export time per target, training time per epoch on
this machine's CPU cores, and TOSA-reference evaluation throughput, for a recipe's model at its config.

    .venv/bin/python scripts/benchmark.py [kws/ds_cnn] [--train-clips 3000]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
from tinyzoo import registry
from tinyzoo.common import kws
from tinyzoo.common.builders import build_model
from tinyzoo.common.lower import lower_ethos_u
from tinyzoo.common.quantize import io_quant_params, quantize_ptq
from tinyzoo.common.train import fit
from tinyzoo.common.verify import quantize, run_tosa


class RandomClips(torch.utils.data.Dataset):
    def __init__(self, n, samples, classes):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, samples, generator=g) * 0.1
        self.y = torch.randint(0, classes, (n,), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", nargs="?", default="kws/ds_cnn")
    parser.add_argument("--train-clips", type=int, default=3000)
    parser.add_argument("--tosa-samples", type=int, default=500)
    args = parser.parse_args()
    cfg = registry.get(args.model).config
    figures: dict = {"model": args.model, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}

    model = build_model(cfg)
    clips = RandomClips(args.train_clips, cfg["data"]["clip_samples"], len(cfg["data"]["labels"]))
    noise = [torch.randn(cfg["data"]["sample_rate"] * 10) * 0.05]
    with tempfile.TemporaryDirectory() as tmp:
        train_cfg = {**cfg["train"], "epochs": 1}
        result = fit(model, clips, train_cfg, Path(tmp) / "ckpt.pt", batch_transform=kws.TrainTransform(cfg, noise),
                     resume=False)
        figures["train_seconds_per_epoch"] = round(result.seconds_per_epoch, 2)
        figures["train_clips_per_second"] = round(args.train_clips / result.seconds_per_epoch, 1)

        features = kws.Features(cfg["frontend"])(clips.x[:512])
        quantized = quantize_ptq(model.eval(), (features[:1],), [features[:256], features[256:]],
                                 target=cfg["export"]["targets"][0])
        io = io_quant_params(quantized)
        figures["export_seconds"] = {}
        tosa = None
        for target in cfg["export"]["targets"]:
            start = time.perf_counter()
            low = lower_ethos_u(quantized, (features[:1],), target, Path(tmp) / target)
            figures["export_seconds"][target] = round(time.perf_counter() - start, 2)
            tosa = tosa or low.tosa_path.read_bytes()
        inputs = quantize(features[:1].repeat(args.tosa_samples, 1, 1, 1), io["input"])
        _, rate = run_tosa(tosa, inputs)
        figures["tosa_reference_samples_per_second"] = round(rate, 1)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
