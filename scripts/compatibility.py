#!/usr/bin/env python3
"""The Ethos-U compatibility table: `tinyzoo deploy` over stock torchvision/torchaudio models and stock PyTorch
layers for each target, one time-limited process per case and target, written to docs/compatibility.md (and
the raw figures to docs/compatibility.json). Random weights (batch-norm statistics recomputed on random images, see
scripts/compat_models.py), seeded random calibration inputs: the table says what lowers and what it costs on the
NPU, not accuracy.

    scripts/compatibility.py                               # the whole table (about an hour on 2 cores)
    scripts/compatibility.py --case gelu --case sdpa_causal --target ethos-u55-128 --out /tmp/compat
    scripts/compatibility.py --case regnet_x_400mf --limit 900   # rerun cases: their rows replace those in docs/
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tinyzoo.common.layout import REPO  # noqa: E402  (the checkout these maintainer scripts run in)

FACTORIES = "scripts/compat_models.py"
TARGETS = ["ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u85-256"]

# name, MODEL argument of `tinyzoo deploy`, input shape, what it is
CASES = [
    ("mobilenet_v2_224", f"{FACTORIES}:mobilenet_v2_224", "1,3,224,224", "torchvision MobileNetV2 1.0 @224"),
    ("mobilenet_v2_96", f"{FACTORIES}:mobilenet_v2_96", "1,3,96,96", "torchvision MobileNetV2 1.0 @96"),
    ("mobilenet_v3_small", f"{FACTORIES}:mobilenet_v3_small", "1,3,224,224", "torchvision MobileNetV3-Small @224"),
    ("mobilenet_v3_large", f"{FACTORIES}:mobilenet_v3_large", "1,3,224,224", "torchvision MobileNetV3-Large @224"),
    ("resnet18", f"{FACTORIES}:resnet18", "1,3,224,224", "torchvision ResNet-18 @224"),
    ("efficientnet_b0", f"{FACTORIES}:efficientnet_b0", "1,3,224,224", "torchvision EfficientNet-B0 @224"),
    ("squeezenet1_1", f"{FACTORIES}:squeezenet1_1", "1,3,224,224", "torchvision SqueezeNet 1.1 @224"),
    ("shufflenet_v2_x0_5", f"{FACTORIES}:shufflenet_v2_x0_5", "1,3,224,224", "torchvision ShuffleNetV2 x0.5 @224"),
    ("mnasnet0_5", f"{FACTORIES}:mnasnet0_5", "1,3,224,224", "torchvision MNASNet 0.5 @224"),
    ("regnet_x_400mf", f"{FACTORIES}:regnet_x_400mf", "1,3,224,224", "torchvision RegNetX-400MF @224"),
    ("vision_transformer_small", f"{FACTORIES}:vision_transformer_small", "1,3,32,32",
     "torchvision VisionTransformer, 32x32, 4x4 patches, 2 layers of 64"),
    ("torchaudio_conformer", f"{FACTORIES}:torchaudio_conformer", "1,49,40",
     "torchaudio Conformer, 2 layers, 49 frames x 40 features"),
    ("torchaudio_conv_tasnet", f"{FACTORIES}:torchaudio_conv_tasnet", "1,1,4000",
     "torchaudio ConvTasNet (small), 0.5 s at 8 kHz"),
    ("transformer_encoder_layer", f"{FACTORIES}:transformer_encoder_layer", "1,50,64",
     "nn.TransformerEncoderLayer (pre-norm, GELU), 50 tokens x 64"),
    ("multihead_attention", f"{FACTORIES}:multihead_attention", "1,50,64", "nn.MultiheadAttention, 50 x 64, 4 heads"),
    ("sdpa_causal", f"{FACTORIES}:sdpa_causal", "1,32,64", "F.scaled_dot_product_attention(is_causal=True), 32 x 64"),
    ("gru", f"{FACTORIES}:gru", "1,49,10", "nn.GRU 10 → 64, 49 steps"),
    ("lstm", f"{FACTORIES}:lstm", "1,49,10", "nn.LSTM 10 → 64, 49 steps"),
    ("upsample_nearest", f"{FACTORIES}:upsample_nearest", "1,8,16,16", "nn.Upsample(scale 2, nearest) between convs"),
    ("upsample_bilinear", f"{FACTORIES}:upsample_bilinear", "1,8,16,16",
     "nn.Upsample(scale 2, bilinear) between convs"),
    ("prelu", f"{FACTORIES}:prelu", "1,8,16,16", "nn.PReLU between convs"),
    ("linear_batchnorm1d", f"{FACTORIES}:linear_batchnorm1d", "1,64", "nn.Linear + nn.BatchNorm1d"),
    ("layernorm", f"{FACTORIES}:layernorm", "1,64", "nn.Linear + nn.LayerNorm"),
    ("gelu", f"{FACTORIES}:gelu", "1,8,16,16", "nn.GELU between convs"),
    ("silu", f"{FACTORIES}:silu", "1,8,16,16", "nn.SiLU between convs"),
    ("hardswish", f"{FACTORIES}:hardswish", "1,8,16,16", "nn.Hardswish between convs"),
]


def run_case(name: str, model: str, shape: str, targets: list[str], out: Path, limit: int,
             samples: int) -> list[dict]:
    """One `tinyzoo deploy --json` for every target in its own process (PTQ once, a lowering per target), killed
    after `limit` seconds: one row per target."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "tinyzoo", "deploy", model, "--input-shape", shape, "--out", str(out / name),
               "--samples", str(samples), "--json", *[a for t in targets for a in ("--target", t)]]
    try:
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=limit,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return [{"case": name, "target": t, "status": "time limit", "seconds": limit,
                 "error": f"stopped after {limit} s for {len(targets)} target(s)"} for t in targets]
    seconds = round(time.perf_counter() - started, 1)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("tinyzoo: error:")]
        error = (lines[-1] if lines else (proc.stderr.strip().splitlines() or ["?"])[-1])[:400]
        return [{"case": name, "target": t, "status": "failed", "seconds": seconds, "error": error} for t in targets]
    metrics = json.loads(proc.stdout)
    fid, rows = metrics["fidelity"], []
    for target in targets:
        r, tosa = metrics["targets"][target], fid["tosa_int8"].get(target)
        rows.append({
            "case": name, "target": target, "status": "lowered", "seconds": seconds,
            "params": metrics["model_info"]["params"], "npu_ops": r["npu_ops"], "cpu_ops": r["cpu_ops"],
            "npu_op_fraction": r["npu_op_fraction"], "cpu_op_names": r["cpu_op_names"],
            "cpu_op_reasons": sorted({d["reason"] for d in r["cpu_op_details"] if "quantize" not in d["op"]}),
            "partitions": r["partitions"], "cycles": r["cycles"], "inference_time_ms": r["inference_time_ms"],
            "sram_kib": r["sram_kib"], "flash_kib": r["flash_kib"], "pte_kib": round(r["pte_bytes"] / 1024, 1),
            "sqnr_fake_quant_db": fid["fake_quant_int8"]["sqnr_db"],
            "sqnr_tosa_db": tosa["sqnr_db"] if tosa else None, "export_seconds": r["export_seconds"],
            "fits": {f["board"]: f["fits"] for f in metrics["memory_fit"] if f["target"] == target}})
    return rows


def _sqnr(x) -> str:
    return "–" if x is None else ("∞" if x == float("inf") else f"{x:.1f}")


def render(rows: list[dict], meta: dict) -> str:
    describe = {name: what for name, _, _, what in CASES}
    lines = [
        "# Ethos-U compatibility of stock PyTorch models and layers", "",
        f"Generated by `scripts/compatibility.py` on {meta['date']} ({meta['tools']}); raw figures in "
        f"[compatibility.json](compatibility.json). Each row is one `tinyzoo deploy` of the model as PyTorch ships "
        f"it, at batch 1, with **random weights** (nothing is downloaded here; torchvision models get batch-norm "
        f"statistics of random images, so activations have trained-like ranges) and {meta['samples']} seeded "
        f"random calibration inputs, int8 (a8w8) PTQ with ExecuTorch {meta['executorch']}'s `EthosUQuantizer`, "
        f"lowered with Vela {meta['vela']}. So: what lowers and what it costs on the NPU, not accuracy. SQNR is int8 "
        f"against float on the same random inputs (fake-quant, and the integer TOSA graph Vela compiles where the "
        f"model is one NPU partition). Time is Vela's estimate at the system config's clock; a case (all its targets "
        f"in one process) is stopped after {meta['limit']} s. Export is one target's lowering.", "",
        "| case | target | lowered | NPU ops | CPU ops (why) | cycles | time (ms) | SRAM (KiB) | flash (KiB) | "
        "SQNR fake-quant / TOSA (dB) | export (s) |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        what = describe.get(r["case"], r["case"])
        if r["status"] != "lowered":
            lines.append(f"| {what} | {r['target']} | **{r['status']}** | – | {r['error'].replace('|', '/')} | – | – "
                         f"| – | – | – | {r['seconds']:.0f} |")
            continue
        cpu = "–" if not r["cpu_ops"] else (", ".join(r["cpu_op_names"]) + (
            f" ({'; '.join(r['cpu_op_reasons'])})" if r["cpu_op_reasons"] else ""))
        lines.append(
            f"| {what} | {r['target']} | {'yes' if not r['cpu_ops'] else 'partly'} | "
            f"{100 * r['npu_op_fraction']:.0f} % ({r['npu_ops']}) | {cpu.replace('|', '/')} | {r['cycles']:,} | "
            f"{r['inference_time_ms']:.3f} | {r['sram_kib']:.1f} | {r['flash_kib']:.1f} | "
            f"{_sqnr(r['sqnr_fake_quant_db'])} / {_sqnr(r['sqnr_tosa_db'])} | {r['export_seconds']:.1f} |")
    lines += ["", "Where operators stay on the CPU no single TOSA graph computes the model's output (TOSA SQNR –), "
              "and with several NPU partitions Vela's cycles and memory describe the last partition only.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", help="only these cases (default: all)")
    parser.add_argument("--target", action="append", help=f"only these targets (default: {', '.join(TARGETS)})")
    parser.add_argument("--limit", type=int, default=600, help="seconds per case, all its targets (default 600)")
    parser.add_argument("--samples", type=int, default=8, help="random calibration inputs per case (default 8)")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where the table goes (default docs/)")
    args = parser.parse_args(argv)
    known = {name: (model, shape) for name, model, shape, _ in CASES}
    unknown = [c for c in args.case or [] if c not in known]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; cases: {', '.join(known)}")
    cases = args.case or list(known)
    targets = args.target or TARGETS
    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyzoo-compat-") as work:
        for name in cases:
            for row in run_case(name, *known[name], targets, Path(work), args.limit, args.samples):
                print(f"{name:<28} {row['target']:<15} {row['status']:<10} {row['seconds']:>6.1f} s"
                      + (f"  {100 * row['npu_op_fraction']:.0f} % NPU" if row["status"] == "lowered" else
                         f"  {row['error'][:120]}"), flush=True)
                rows.append(row)
    from importlib.metadata import version
    meta = {"date": _dt.date.today().isoformat(), "limit": args.limit, "samples": args.samples,
            "executorch": version("executorch"), "vela": version("ethos-u-vela"),
            "tools": f"torch {version('torch')}, torchvision {version('torchvision')}, "
                     f"torchaudio {version('torchaudio')}"}
    args.out.mkdir(parents=True, exist_ok=True)
    previous = args.out / "compatibility.json"
    if args.case and previous.exists():   # a rerun of some cases replaces their rows in the existing table
        fresh = {(r["case"], r["target"]) for r in rows}
        kept = [r for r in json.loads(previous.read_text())["rows"] if (r["case"], r["target"]) not in fresh]
        order = {name: i for i, (name, _, _, _) in enumerate(CASES)}
        rows = sorted(kept + rows, key=lambda r: (order.get(r["case"], len(order)), r["target"]))
        meta["limit"] = f"{json.loads(previous.read_text())['meta']['limit']} (rerun cases: {args.limit})"
    (args.out / "compatibility.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    (args.out / "compatibility.md").write_text(render(rows, meta))
    print(f"wrote {args.out / 'compatibility.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
