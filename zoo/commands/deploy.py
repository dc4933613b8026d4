"""`tinyzoo deploy`: common.deploy.deploy_model on a user's own PyTorch model, with the command that reproduces it."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from tinyzoo.common.errors import TinyzooError
from tinyzoo.common.targets import check as check_target

NAME = "deploy"


def add_parser(subparsers) -> None:
    s = subparsers.add_parser(NAME, help="your own PyTorch model → int8 → .pte per Ethos-U target, with NPU figures, "
                                         "int8 fidelity and the ops left on the CPU (no recipe, no training)")
    s.add_argument("model", help="path/to/file.py:factory (a function returning the nn.Module) or torchvision:<name>")
    s.add_argument("--input-shape", action="append", required=True, metavar="1,C,H,W",
                   help="the static input shape the MCU runs (repeat for each input)")
    s.add_argument("--target", action="append", required=True, help="Ethos-U target (repeatable)")
    s.add_argument("--out", type=Path, required=True, help="output folder: <target>/model.pte, metrics.json, card/")
    s.add_argument("--calibration", type=Path, help="a .npy/.pt file or a folder of them (default: seeded random "
                                                     "inputs: figures then describe the architecture, not accuracy)")
    s.add_argument("--eval", type=Path, help="inputs for the fidelity figures (default: the calibration inputs)")
    s.add_argument("--samples", type=int, default=16, help="how many seeded random inputs without --calibration "
                                                           "(default 16)")
    s.add_argument("--scheme", choices=["a8w8", "a16w8"], default="a8w8",
                   help="int8 activations and weights, or int16 activations with int8 weights")
    s.add_argument("--npu-only", action="store_true", help="an operator left on the CPU is an error")
    s.add_argument("--input-layout", choices=["NCHW", "NHWC"], default="NCHW",
                   help="the .pte's 4-D inputs: NCHW as PyTorch, or NHWC (HWC bytes as a camera and TFLite give "
                        "them; saves the NPU's input transposes)")
    s.add_argument("--no-rewrite", action="store_true",
                   help="no NPU-ready rewrites of stock layers before quantization (common/rewrites.py)")
    s.add_argument("--strict", action="store_true",
                   help="an integer graph that diverges from the int8 fake-quant model is an error")
    s.add_argument("--name", help="the name in the card and metrics (default: from MODEL)")
    s.add_argument("--json", action="store_true", help="print metrics.json (progress goes to stderr)")


def run(args) -> None:
    """`tinyzoo deploy MODEL --input-shape … --target …`: a user's own model through the chain, no recipe."""
    import torch
    from tinyzoo.common import deploy

    shapes = [deploy.parse_shape(s) for s in args.input_shape]
    if args.samples < 1:
        raise TinyzooError(f"--samples {args.samples}: at least 1")
    targets = [check_target(t) for t in args.target]          # arguments first, before loading anything
    if args.out.exists() and not args.out.is_dir():
        raise TinyzooError(f"--out {args.out} is a file: give a folder (new or one to overwrite)")
    model, weights = deploy.load_model(args.model)
    calibration = [tuple(deploy.load_inputs(args.calibration, shapes))] if args.calibration else None
    eval_inputs = deploy.load_inputs(args.eval, shapes) if args.eval else None
    log = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if args.json else print
    shape_args = " ".join(f"--input-shape {','.join(map(str, s))}" for s in shapes)
    metrics = deploy.deploy_model(
        model, [torch.zeros(s) for s in shapes], targets=targets, out_dir=args.out, calibration=calibration,
        eval_inputs=eval_inputs, scheme=args.scheme, npu_only=args.npu_only, random_samples=args.samples,
        input_layout=args.input_layout, rewrite=not args.no_rewrite, strict=args.strict,
        name=args.name or deploy.default_name(args.model), weights=weights, log=log,
        reproduce=(f"tinyzoo deploy {args.model} {shape_args} " + " ".join(f"--target {t}" for t in targets)
                   + (f" --calibration {args.calibration}" if args.calibration else "")
                   + (f" --eval {args.eval}" if args.eval else "") + f" --scheme {args.scheme}"
                   + (" --npu-only" if args.npu_only else "")
                   + (f" --input-layout {args.input_layout}" if args.input_layout != "NCHW" else "")
                   + (" --no-rewrite" if args.no_rewrite else "") + (" --strict" if args.strict else "")
                   + f" --out {args.out}"))
    if args.json:
        print(json.dumps(metrics, indent=2, sort_keys=True, default=str))
        return
    for line in deploy.summary_lines(metrics):
        print(line)
    print(f"metrics: {args.out / 'metrics.json'}")
