"""The chain after training, one program at a time: int8 at the static batch-1 shape (PTQ, optionally QAT) →
lowering per target → evaluation on each target's integer TOSA graph → Vela's report → the golden input/output
pair. A recipe's tasks (common/tasks/) describe their programs with `Program`; `common.pipeline.build` runs each
through `deploy`, and a user's own model (common/deploy.py) goes through `deploy` too. `load_artifacts` reads back
what it wrote (for `tinyzoo eval`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tinyzoo.common import distributed, lower, report, rewrites, tflite_path
from tinyzoo.common import quantize as q
from tinyzoo.common.builders import build_model
from tinyzoo.common.errors import ArtifactError, ConfigError, DependencyError, DivergenceError
from tinyzoo.common.layout import REFERENCE_FILE
from tinyzoo.common.lower import in_layout
from tinyzoo.common.targets import check as check_target
from tinyzoo.common.train import fit, load_weights
from tinyzoo.common.verify import quantize as quantize_array
from tinyzoo.common.verify import run_tosa


def batches(features: torch.Tensor, size: int = 256):
    return [features[i:i + size] for i in range(0, len(features), size)]


def save_fake_quant(quantized: torch.fx.GraphModule, example_inputs: tuple, path: Path) -> Path:
    """The int8 fake-quant model as a torch.export program at the static batch-1 shape it was quantized and is
    deployed at (what `tinyzoo eval` and `export` reload; evaluation runs it one sample at a time)."""
    example = tuple(x[:1].clone() for x in example_inputs)  # clone: a slice would save the whole test set
    program = torch.export.export(quantized, example)
    tmp = path.with_name(path.stem + ".tmp.pt2")
    torch.export.save(program, str(tmp))
    tmp.replace(path)
    return path


def io_params(quantized: torch.fx.GraphModule, layout: str = "NCHW") -> dict:
    """The int8 scales and zero points of the model's inputs and outputs: {"input", "output"} for a model with
    one of each (the recipes' schema), else {"inputs": [...], "outputs": [...]}. With `layout` NHWC each 4-D
    input's entry says `layout: NHWC` (the program takes it channels-last: common.lower.in_layout), and so does
    each output that comes out channels-last from such inputs (a 4-D feature map); common.verify's quantize and
    dequantize and the firmware's front ends follow them."""
    every = q.all_io_quant_params(quantized)
    if layout == "NHWC":
        shapes = [n.meta["val"].shape for n in quantized.graph.nodes if n.op == "placeholder"
                  and "val" in n.meta][-len(every["inputs"]):]
        with torch.no_grad():
            outputs = quantized(*in_layout(tuple(torch.zeros(s) for s in shapes), "NHWC"))
        outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        for entry, shape in zip(every["inputs"], shapes):
            if len(shape) == 4:
                entry["layout"] = "NHWC"
        for entry, out in zip(every["outputs"], outputs):
            if out.dim() == 4 and out.dim_order() == (0, 2, 3, 1):
                entry["layout"] = "NHWC"
    if len(every["inputs"]) == 1 and len(every["outputs"]) == 1:
        return {"input": every["inputs"][0], "output": every["outputs"][0]}
    return every


def every_io(io: dict) -> dict:
    """`io_params` in the several-inputs form."""
    return io if "inputs" in io else {"inputs": [io["input"]], "outputs": [io["output"]]}


def deploy(model: torch.nn.Module, cfg: dict, *, example_inputs: tuple, calibration, build_dir: Path,
           evaluate: Callable[[torch.nn.Module, torch.fx.GraphModule, dict, dict], dict],
           reference_inputs: tuple, qat_train: Callable[[torch.nn.Module, dict], None] | None = None,
           score: Callable[[torch.fx.GraphModule], float] | None = None, program: str | None = None,
           quality_key: str = "fidelity", log=print) -> dict:
    """The chain after training, for a recipe's trained model and for a user's model alike: int8 at the static
    batch-1 shape (PTQ on the calibration batches, optionally QAT), one lowering per target in the config,
    `evaluate(float_model, int8_fake_quant, {target: model.tosa}, io)` on the TOSA graphs, Vela's report per
    target, and a golden input/output pair (`reference_inputs`, batch 1). Returns the metrics' quantization /
    quality / targets / timings / reference parts; the quality part (what `evaluate` returns) is under `quality_key`,
    the task's (`Task.quality`: "accuracy" for a classifier, "perplexity" for a language model, "fidelity" for a
    user's model).

    `score(fake_quant)` (e.g. test accuracy) is recorded for the PTQ and the QAT model when QAT runs.

    A model that exports several programs (a language model's window graph and its KV-cache decode step) goes
    through this once per program: `program` names the second and later ones, whose files go to
    `<build>/<program>/` (fake-quant program, reference inputs) and `<build>/<target>/<program>/` (.pte, TOSA,
    Vela, reference outputs, BundleIO)."""
    qcfg, ecfg = cfg["quantize"], cfg["export"]
    targets = [check_target(t) for t in ecfg["targets"]]
    scheme = qcfg.get("scheme", "a8w8")
    timings: dict = {}

    log(f"PTQ ({scheme}) at batch 1")
    start = time.perf_counter()
    observer = qcfg.get("ptq", {}).get("observer", "histogram")
    linear_weights = qcfg.get("linear_weights", "per_channel")
    ptq = q.quantize_ptq(model, example_inputs, calibration, target=targets[0], scheme=scheme, observer=observer,
                         linear_weights=linear_weights, rewrite=qcfg.get("rewrite", True))
    rewritten = ptq.meta.get("rewrites") or {}
    if rewritten:
        log(f"rewritten for the NPU: {rewrites.described(rewritten)}")
    timings["ptq_seconds"] = time.perf_counter() - start
    samples = sum(len(b[0] if isinstance(b, (tuple, list)) else b) for b in calibration)
    deployed, quant_info = ptq, {"scheme": scheme, "deployed": "ptq",
                                 **({"linear_weights": linear_weights} if linear_weights != "per_channel" else {}),
                                 **({"rewrites": rewritten} if rewritten else {}),
                                 "ptq": {"calibration_samples": int(samples),
                                         **({"observer": observer} if observer != "histogram" else {})}, "qat": None}
    scores = {}
    if qcfg.get("qat", {}).get("enabled"):
        if qat_train is None:
            raise ValueError("quantize.qat.enabled needs the recipe to pass qat_train")
        batch, processes = qat_batch(cfg), distributed.world_size()
        log(f"QAT ({scheme}) for {qcfg['qat']['epochs']} epochs at a static batch of {batch}"
            + (f" per process ({processes} processes)" if processes > 1 else ""))
        start = time.perf_counter()
        qat_model = q.prepare_qat(model, example_inputs, target=targets[0], scheme=scheme, batch_size=batch)
        qat_train(qat_model, qcfg["qat"])
        distributed.cleanup()   # under torchrun the other processes trained QAT with this one and have stopped
        deployed = q.convert_qat(qat_model, example_inputs)
        timings["qat_seconds"] = time.perf_counter() - start
        quant_info.update(deployed="qat", qat={"epochs": qcfg["qat"]["epochs"], "lr": qcfg["qat"]["lr"],
                                               "batch_size": cfg["train"]["batch_size"],
                                               "last_partial_batch": "dropped", "world_size": processes})
        if score is not None:
            scores = {"ptq_fake_quant_int8": score(ptq), "qat_fake_quant_int8": score(deployed)}
    layout = ecfg.get("input_layout", "NCHW")
    io = io_params(deployed, layout)
    program_dir = build_dir / program if program else build_dir
    program_dir.mkdir(parents=True, exist_ok=True)
    saved = save_fake_quant(deployed, reference_inputs, program_dir / "model_int8.pt2")

    lowered, target_reports, tflite_targets, failed = {}, {}, {}, {}
    reference_tflite = reference_model(cfg, build_dir)
    for target in targets:
        log(f"lowering {program + ' ' if program else ''}for {target}")
        try:   # in a child process: a crash inside ExecuTorch or Vela costs this target, not the others
            low = lower.lower_in_child(saved, example_inputs, target, build_dir / target / (program or ""),
                                       int8_io=ecfg.get("int8_io", True), input_layout=layout, log=log,
                                       allow_cpu_fallback=ecfg.get("allow_cpu_fallback", False))
        except DependencyError as err:
            failed[target] = str(err)
            log(f"  FAILED {err}")
            continue
        lowered[target] = low
        target_reports[target] = report.target_report(low)
        log(f"  {target}: {low.npu_ops} ops on the NPU, {low.cpu_ops} on the CPU, "
            f"{target_reports[target]['cycles']} cycles, {low.pte_path.stat().st_size} B .pte ({low.seconds:.1f} s)")
        if reference_tflite is not None and program is None:
            other = tflite_path.vela_compile(reference_tflite, target, build_dir / target / "tflite_vela")
            tflite_targets[target] = tflite_path.side_by_side(target_reports[target], other)
            log(f"  {target}: {cfg['reference']['name']}: {other['cycles']} cycles "
                f"(.pte / .tflite = {tflite_targets[target]['cycle_ratio']:.3f})")

    if not lowered:
        raise DependencyError(next(iter(failed.values())))
    log("verifying: float, int8 fake-quant, int8 TOSA reference per target")
    start = time.perf_counter()
    whole = {t: low for t, low in lowered.items() if low.whole}   # elsewhere only the Vela figures are reported
    quality = evaluate(model, deployed, {t: low.tosa_path for t, low in whole.items()}, io)
    quality.update(scores)
    divergence = diverging(quality)
    for target, why in divergence.items():
        log(f"WARNING {target}: the integer graph the NPU runs is not the int8 model that was validated: {why}")
    if divergence and ecfg.get("strict"):
        first = next(iter(divergence))
        raise DivergenceError(f"{first}: the integer TOSA graph diverges from the int8 fake-quant model "
                              f"({divergence[first]}); without --strict it is reported and written")
    timings["verify_seconds"] = time.perf_counter() - start
    reference = write_reference_io(program_dir, whole, reference_inputs, io)
    result = {"quantization": {**quant_info, "io": io}, quality_key: quality, "targets": target_reports,
              "timings": timings, "reference": reference, **({"divergence": divergence} if divergence else {}),
              **({"failed_targets": failed} if failed else {})}
    if tflite_targets:
        result["tflite"] = {"name": cfg["reference"]["name"], "quality_target": cfg["reference"].get("quality_target"),
                            "targets": tflite_targets}
    return result


MAX_LSB_DIVERGENCE = 32   # output LSBs: rounding differences stay well below (transformers: up to ~13 here)
MAX_SQNR_DROP_DB = 3.0    # where the figures are SQNRs against float


def diverging(quality: dict) -> dict[str, str]:
    """{target: why} for each target whose integer TOSA graph parts from the int8 fake-quant model: its outputs
    more than MAX_LSB_DIVERGENCE LSBs apart, or its SQNR against float more than MAX_SQNR_DROP_DB below
    fake-quant's. What the NPU computes is then not the model that was validated (an ExecuTorch lowering fault)."""
    out = {}
    fake = quality.get("fake_quant_int8")
    for target, lsb in (quality.get("max_lsb_diff_tosa_fake_quant") or {}).items():
        reasons = [f"{lsb} LSB from fake-quant"] if lsb > MAX_LSB_DIVERGENCE else []
        tosa = (quality.get("tosa_int8") or {}).get(target)
        if isinstance(fake, dict) and isinstance(tosa, dict) and fake.get("sqnr_db") is not None \
                and tosa.get("sqnr_db") is not None and tosa["sqnr_db"] < fake["sqnr_db"] - MAX_SQNR_DROP_DB:
            reasons.append(f"SQNR vs float {fake['sqnr_db']:.1f} dB (fake-quant) → {tosa['sqnr_db']:.1f} dB (TOSA)")
        if reasons:
            out[target] = ", ".join(reasons)
    return out


def reference_model(cfg: dict, build_dir: Path) -> Path | None:
    """The config's `reference` model (another tool's int8 .tflite of the same network, copied into the build from
    beside --weights), or None when the config names none."""
    if not cfg.get("reference"):
        return None
    path = build_dir / REFERENCE_FILE
    if not path.is_file():
        raise ConfigError(f"the config's reference section needs {REFERENCE_FILE} beside the --weights checkpoint "
                          f"(scripts/convert_mlperf.py writes both)")
    return path


def write_bundled_program(pte_path: Path, inputs: list, expected: list) -> Path:
    """`<target>/model.bpte`: ExecuTorch's BundleIO program — the `.pte` with the int8 reference input and the
    int8 output the TOSA graph computes for it — which ExecuTorch's `arm_executor_runner` (built with BundleIO
    support) runs and checks by itself on an FVP or a board."""
    from executorch.devtools.bundled_program.config import (
        MethodTestCase,
        MethodTestSuite,
    )
    from executorch.devtools.bundled_program.core import BundledProgram
    from executorch.devtools.bundled_program.serialize import (
        serialize_from_bundled_program_to_flatbuffer,
    )

    case = MethodTestCase(inputs=[torch.from_numpy(np.ascontiguousarray(x)) for x in inputs],
                          expected_outputs=[torch.from_numpy(np.ascontiguousarray(y)) for y in expected])
    bundle = BundledProgram(None, [MethodTestSuite(method_name="forward", test_cases=[case])],
                            pte_file_path=str(pte_path))
    path = pte_path.with_suffix(".bpte")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(serialize_from_bundled_program_to_flatbuffer(bundle))
    tmp.replace(path)
    return path


def public_reference(cfg: dict, first_sample: torch.Tensor) -> tuple[tuple, str]:
    """The batch-1 input published with the model (the saved program's example, the golden reference pair):
    the first test sample, or — when the data may not be redistributed (e.g. COCO images) — a seeded random
    input of the same shape and statistics."""
    if cfg["data"].get("redistributable", True):
        return (first_sample,), "first test sample"
    noise = torch.randn(first_sample.shape, generator=torch.Generator().manual_seed(0))
    return ((noise * first_sample.std() + first_sample.mean(),),
            "seeded random input (the test data may not be redistributed)")


def write_target_reference(pte_path: Path, tosa_path: Path, raw_in: list) -> list:
    """Next to a target's `.pte`: the int8 output(s) its TOSA graph computes for the reference input(s)
    (`reference_output.bin`, or `reference_output_<i>.bin` for several) and the BundleIO program holding both."""
    raw_out, _ = run_tosa(tosa_path, raw_in if len(raw_in) > 1 else raw_in[0])
    outs = raw_out if isinstance(raw_out, list) else [raw_out]
    for name, raw in zip(reference_names("output", len(outs)), outs):
        (pte_path.parent / name).write_bytes(raw.tobytes())
    write_bundled_program(pte_path, raw_in, outs)
    return outs


def reference_names(kind: str, count: int) -> list[str]:
    """The golden pair's file names: `reference_<kind>.bin`, or `reference_<kind>_<i>.bin` for several."""
    return [f"reference_{kind}.bin"] if count == 1 else [f"reference_{kind}_{i}.bin" for i in range(count)]


def read_reference_inputs(artifacts: Path, metrics: dict) -> list | None:
    """The published int8 reference input(s) as arrays of their recorded shape, or None when the artifacts
    have none; a file of the wrong size is an ArtifactError naming it."""
    reference = metrics.get("reference") or {}
    shapes = reference.get("input_shapes") or ([reference["input_shape"]] if "input_shape" in reference else [])
    paths = [artifacts / n for n in reference_names("input", len(shapes))]
    if not shapes or not all(p.is_file() for p in paths):
        return None
    dtype = np.dtype(reference.get("dtype", "int8"))
    arrays = []
    for path, shape in zip(paths, shapes):
        data = np.fromfile(path, dtype=dtype)
        if data.size != int(np.prod(shape)):
            raise ArtifactError(f"{path} holds {data.size} {dtype} values, not the {shape} its metrics.json records: "
                                f"pull or rebuild the model")
        arrays.append(data.reshape(shape))
    return arrays


def write_reference_io(build_dir: Path, lowered: dict, inputs: tuple, io: dict) -> dict:
    """A golden pair for firmware and downloads: one sample as the model's int8 input (`reference_input.bin`,
    raw bytes) and, per target, the int8 output its TOSA graph computes (`<target>/reference_output.bin`); a model
    with several inputs or outputs gets `reference_input_<i>.bin` / `reference_output_<i>.bin`."""
    io_all = every_io(io)
    raw_in = [quantize_array(x[:1], spec) for x, spec in zip(inputs, io_all["inputs"])]
    for name, raw in zip(reference_names("input", len(raw_in)), raw_in):
        (build_dir / name).write_bytes(raw.tobytes())
    for low in lowered.values():
        write_target_reference(low.pte_path, low.tosa_path, raw_in)
    return {"input_shape": list(raw_in[0].shape), "dtype": str(raw_in[0].dtype),
            **({"input_shapes": [list(r.shape) for r in raw_in]} if len(raw_in) > 1 else {})}


@dataclass
class Program:
    """One program a model exports (a classifier's one graph; a language model's window graph and its KV-cache
    decode step), as `deploy` takes it: the module, its batch-1 example inputs, the calibration batches, the
    evaluation after lowering, the golden input; `name` places a second program's files in `<build>/<name>/`;
    `store(result, deployed)` puts what `deploy` returned into the build's metrics (by default at the top)."""
    model: torch.nn.Module
    example_inputs: tuple
    calibration: list
    evaluate: Callable[[torch.nn.Module, torch.fx.GraphModule, dict, dict], dict]
    reference_inputs: tuple
    name: str | None = None
    cfg: dict | None = None                  # the config it is quantized with (default: the recipe's)
    qat_train: Callable | None = None
    score: Callable | None = None
    store: Callable[[dict, dict], None] | None = None


def qat_batch(cfg: dict) -> int:
    """The static batch the QAT graph is exported at: each training process's share of the global batch."""
    return cfg["train"]["batch_size"] // distributed.world_size()


def qat_fine_tune(qat_model, train_set, cfg: dict, build_dir: Path, train_transform) -> None:
    """QAT fine-tuning of the float model's QAT graph (under DDP when torchrun started several processes),
    dropping each epoch's last partial batch (the graph has a static batch)."""
    qat_cfg = cfg["quantize"]["qat"]
    fit(qat_model, train_set, {**cfg["train"], "epochs": qat_cfg["epochs"], "lr": qat_cfg["lr"], "warmup_epochs": 0},
        build_dir / "qat_checkpoint.pt", batch_transform=train_transform, resume=False, drop_last=True)


def load_artifacts(artifacts_dir: Path, cfg: dict, targets: list[str] | None = None):
    """A build's (or the published) float model, int8 fake-quant program, TOSA graphs per target and int8 I/O."""
    artifacts_dir = Path(artifacts_dir)
    for needed in ("checkpoint.pt", "model_int8.pt2"):
        if not (artifacts_dir / needed).exists():
            raise ArtifactError(f"{artifacts_dir / needed} is missing; build the model first "
                                f"(`tinyzoo build {cfg['model']['name']}`) or pull its artifacts")
    model = build_model(cfg)
    load_weights(model, artifacts_dir / "checkpoint.pt")
    fake_quant = q.load_quantized_program(artifacts_dir / "model_int8.pt2").module()
    available = sorted(p.parent.name for p in artifacts_dir.glob("*/model.tosa"))
    targets = targets or available
    missing = [t for t in targets if t not in available]
    if missing:
        raise ArtifactError(f"no lowered graph for {', '.join(missing)} in {artifacts_dir}; "
                            f"available: {', '.join(available)}")
    io = io_params(fake_quant, cfg["export"].get("input_layout", "NCHW"))
    return model, fake_quant, {t: artifacts_dir / t / "model.tosa" for t in targets}, every_io(io) if "inputs" in io \
        else io
