"""The one chain: `build` runs every recipe (data → fit → per program: quantize → lower per target → verify →
report → card), its task (common/tasks/) saying what differs; `deploy` is its part after training, which a
user's own model (common/deploy.py) goes through too. Everything a card says comes from the metrics dict this
module writes (`<build>/metrics.json`).
"""
from __future__ import annotations

import datetime as _dt
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from tinyzoo.common import distributed, layout, tasks, tflite_path
from tinyzoo.common import quantize as q
from tinyzoo.common.config import save_yaml, tool_versions
from tinyzoo.common.lower import check_target, lower_ethos_u
from tinyzoo.common.verify import run_tosa
from tinyzoo.common.verify import quantize as quantize_array

from tinyzoo.common.layout import ARTIFACTS, checkout


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
        from tinyzoo.common.lower import in_layout

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
           log=print) -> dict:
    """The chain after training, for a recipe's trained model and for a user's model alike: int8 at the static
    batch-1 shape (PTQ on the calibration batches, optionally QAT), one lowering per target in the config,
    `evaluate(float_model, int8_fake_quant, {target: model.tosa}, io)` on the TOSA graphs, Vela's report per
    target, and a golden input/output pair (`reference_inputs`, batch 1). Returns the metrics' quantization /
    quality / targets / timings / reference parts; the quality part (what `evaluate` returns) is under the key of the
    config's task (`Task.quality`: "accuracy" for a classifier, "perplexity" for a language model, "fidelity" for a
    user's model, whose config names no task).

    `score(fake_quant)` (e.g. test accuracy) is recorded for the PTQ and the QAT model when QAT runs.

    A model that exports several programs (a language model's window graph and its KV-cache decode step) goes
    through this once per program: `program` names the second and later ones, whose files go to
    `<build>/<program>/` (fake-quant program, reference inputs) and `<build>/<target>/<program>/` (.pte, TOSA,
    Vela, reference outputs, BundleIO)."""
    from tinyzoo.common import report

    qcfg, ecfg = cfg["quantize"], cfg["export"]
    targets = [check_target(t) for t in ecfg["targets"]]
    scheme = qcfg.get("scheme", "a8w8")
    timings: dict = {}

    log(f"PTQ ({scheme}) at batch 1")
    start = time.perf_counter()
    observer = qcfg.get("ptq", {}).get("observer", "histogram")
    ptq = q.quantize_ptq(model, example_inputs, calibration, target=targets[0], scheme=scheme, observer=observer)
    timings["ptq_seconds"] = time.perf_counter() - start
    samples = sum(len(b[0] if isinstance(b, (tuple, list)) else b) for b in calibration)
    deployed, quant_info = ptq, {"scheme": scheme, "deployed": "ptq",
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
                                               "batch_size": cfg["train"]["batch_size"], "last_partial_batch": "dropped",
                                               "world_size": processes})
        if score is not None:
            scores = {"ptq_fake_quant_int8": score(ptq), "qat_fake_quant_int8": score(deployed)}
    layout = ecfg.get("input_layout", "NCHW")
    io = io_params(deployed, layout)
    program_dir = build_dir / program if program else build_dir
    program_dir.mkdir(parents=True, exist_ok=True)
    save_fake_quant(deployed, reference_inputs, program_dir / "model_int8.pt2")

    lowered, target_reports, tflite_targets = {}, {}, {}
    reference_tflite = reference_model(cfg, build_dir)
    for target in targets:
        log(f"lowering {program + ' ' if program else ''}for {target}")
        low = lower_ethos_u(deployed, example_inputs, target, build_dir / target / (program or ""),
                            int8_io=ecfg.get("int8_io", True),
                            allow_cpu_fallback=ecfg.get("allow_cpu_fallback", False), input_layout=layout)
        lowered[target] = low
        target_reports[target] = report.target_report(low)
        log(f"  {target}: {low.npu_ops} ops on the NPU, {low.cpu_ops} on the CPU, "
            f"{target_reports[target]['cycles']} cycles, {low.pte_path.stat().st_size} B .pte ({low.seconds:.1f} s)")
        if reference_tflite is not None and program is None:
            other = tflite_path.vela_compile(reference_tflite, target, build_dir / target / "tflite_vela")
            tflite_targets[target] = tflite_path.side_by_side(target_reports[target], other)
            log(f"  {target}: {cfg['reference']['name']}: {other['cycles']} cycles "
                f"(.pte / .tflite = {tflite_targets[target]['cycle_ratio']:.3f})")

    log("verifying: float, int8 fake-quant, int8 TOSA reference per target")
    start = time.perf_counter()
    whole = {t: low for t, low in lowered.items() if low.whole}   # elsewhere only the Vela figures are reported
    quality = evaluate(model, deployed, {t: low.tosa_path for t, low in whole.items()}, io)
    quality.update(scores)
    timings["verify_seconds"] = time.perf_counter() - start
    reference = write_reference_io(program_dir, whole, reference_inputs, io)
    result = {"quantization": {**quant_info, "io": io}, tasks.of(cfg).quality: quality, "targets": target_reports,
              "timings": timings, "reference": reference}
    if tflite_targets:
        result["tflite"] = {"name": cfg["reference"]["name"], "quality_target": cfg["reference"].get("quality_target"),
                            "targets": tflite_targets}
    return result


def reference_model(cfg: dict, build_dir: Path) -> Path | None:
    """The config's `reference` model (another tool's int8 .tflite of the same network, copied into the build from
    beside --weights), or None when the config names none."""
    from tinyzoo.common.errors import ConfigError
    from tinyzoo.common.recipe import REFERENCE_FILE

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
    import numpy as np
    from executorch.devtools.bundled_program.config import MethodTestCase, MethodTestSuite
    from executorch.devtools.bundled_program.core import BundledProgram
    from executorch.devtools.bundled_program.serialize import serialize_from_bundled_program_to_flatbuffer

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
    return (noise * first_sample.std() + first_sample.mean(),), "seeded random input (the test data may not be redistributed)"


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
    import numpy as np

    from tinyzoo.common.errors import ArtifactError

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


def build(name: str, recipe_dir: Path, argv=None) -> Path:
    """The one chain of every recipe, top to bottom: data → fit → int8 → for each program the model exports ×
    each target: lower → evaluate on the TOSA reference → Vela report → metrics and card (in the build folder;
    `--publish` or `tinyzoo publish` puts them in the catalogue). What differs per task is its `Task`
    (common/tasks/): its data, its training view, its programs and their evaluation."""
    from tinyzoo.common import recipe
    from tinyzoo.common.layout import split_name

    args = recipe.arguments(name, argv)
    weights = split_name(name)[1]
    cfg = recipe.config(recipe_dir, args, weights)
    with recipe.build_lock(recipe.build_dir(name, args)) as build_dir:
        return _build(name, recipe_dir, args, cfg, weights, build_dir)


def _build(name: str, recipe_dir: Path, args, cfg: dict, weights: str | None, build_dir: Path) -> Path:
    from tinyzoo.common import recipe
    from tinyzoo.common.config import build_model, resolved
    from tinyzoo.common.train import fit, seed_everything, weights_shaped_by

    task = tasks.of(cfg)
    reference_model(cfg, build_dir)   # a reference .tflite the config names is there before any data is read
    distributed.init()   # under torchrun: one of several training processes
    seed_everything(cfg["train"]["seed"])

    # 1. Data: the training split (and validation) for training, the test split for testing only.
    data = task.load_data(cfg, args.data_root, build_dir)
    training = task.training(cfg, data)

    # 2-3. The float model, trained (or resumed, or from --weights; with train.epochs 0 the --weights as they are,
    # e.g. a reference model's converted weights).
    model = build_model(cfg)
    source = None
    if cfg["train"]["epochs"] == 0:
        trained, source = given_weights(model, build_dir / "checkpoint.pt", args.weights)
    else:
        trained = fit(model, data.train, cfg["train"], build_dir / "checkpoint.pt", **training,
                      resume=not args.no_resume, shaped_by=weights_shaped_by(cfg, data.train))
    if not after_training(model, cfg, data.train, training.get("batch_transform"), build_dir, task.features_of):
        return build_dir   # the other processes' work ends with training (and QAT)

    # 4-8. Per program: int8 (PTQ on the committed calibration samples, optionally QAT), lowering per target,
    # evaluation on the TOSA reference, Vela report; then the metrics and the card.
    calibration = recipe.calibration_indices(data.train.ids, recipe_dir, build_dir,
                                             count=cfg["quantize"]["ptq"]["samples"], seed=cfg["train"]["seed"],
                                             new=args.new_calibration or args.profile == "quick", weights=weights)
    deployed: dict = {}
    example = None
    for program in task.programs(model, data, cfg, build_dir, calibration, training):
        result = deploy(program.model, program.cfg or cfg, example_inputs=program.example_inputs,
                        calibration=program.calibration, build_dir=build_dir, evaluate=program.evaluate,
                        reference_inputs=program.reference_inputs, qat_train=program.qat_train,
                        score=program.score, program=program.name)
        (program.store or (lambda r, d: d.update(r)))(result, deployed)
        example = example or program.example_inputs
    metrics = recipe_metrics(name, cfg, args, model, example, trained, deployed, data=task.data_summary(cfg, data),
                             reproduce=f"tinyzoo build {name} --data-root <{task.data_hint(cfg)}>")
    if source:
        metrics["weights_source"] = source
    return finish(metrics, resolved(cfg), build_dir, publish=args.publish)


def given_weights(model: torch.nn.Module, checkpoint: Path, weights: Path | None):
    """No training (train.epochs 0): the float weights of --weights (a state dict, or a checkpoint holding one
    under "model") loaded as they are; `recipe.build_dir` has copied them to the build's checkpoint. Returns the
    (empty) training result and where the weights came from (the checkpoint's "source", e.g. a converted
    reference model's provenance and parity figures), which the card records."""
    from tinyzoo.common.errors import ConfigError
    from tinyzoo.common.recipe import NO_WEIGHTS
    from tinyzoo.common.train import TrainResult

    if weights is None:
        raise ConfigError(NO_WEIGHTS)
    state = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    try:
        model.load_state_dict(state["model"] if isinstance(state, dict) and "model" in state else state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise ConfigError(f"--weights {weights} does not fit this model ({first})") from None
    model.eval()
    return TrainResult(), state.get("source") if isinstance(state, dict) else None


def qat_batch(cfg: dict) -> int:
    """The static batch the QAT graph is exported at: each training process's share of the global batch."""
    return cfg["train"]["batch_size"] // distributed.world_size()


def qat_fine_tune(qat_model, train_set, cfg: dict, build_dir: Path, train_transform) -> None:
    """QAT fine-tuning of the float model's QAT graph (under DDP when torchrun started several processes),
    dropping each epoch's last partial batch (the graph has a static batch)."""
    from tinyzoo.common.train import fit

    qat_cfg = cfg["quantize"]["qat"]
    fit(qat_model, train_set, {**cfg["train"], "epochs": qat_cfg["epochs"], "lr": qat_cfg["lr"], "warmup_epochs": 0},
        build_dir / "qat_checkpoint.pt", batch_transform=train_transform, resume=False, drop_last=True)


def after_training(model: torch.nn.Module, cfg: dict, train_set, train_transform, build_dir: Path,
                   features_of: Callable) -> bool:
    """Where the training processes part after float training: True for process 0, which goes on to quantize,
    lower, verify and write the card. Under torchrun with QAT enabled the other processes first train the QAT graph
    with process 0 (the same graph from the same weights, each on its share of every batch); then they stop."""
    qat = cfg["quantize"].get("qat", {}).get("enabled") and distributed.world_size() > 1
    if not qat:
        distributed.cleanup()
        return distributed.is_main()
    if distributed.is_main():
        return True   # pipeline.deploy trains QAT with the others, then leaves the process group
    example = (features_of(train_set.subset([0]), cfg["frontend"]),)
    qat_model = q.prepare_qat(model, example, target=cfg["export"]["targets"][0],
                              scheme=cfg["quantize"].get("scheme", "a8w8"), batch_size=qat_batch(cfg))
    qat_fine_tune(qat_model, train_set, cfg, build_dir, train_transform)
    distributed.cleanup()
    return False


def recipe_metrics(name: str, cfg: dict, args, model: torch.nn.Module, example_inputs: tuple, trained,
                   deployed: dict, *, data: dict, reproduce: str) -> dict:
    """The metrics every recipe's card is generated from: card text from the config, what the data was, the
    model, training, and everything `deploy` measured."""
    from tinyzoo.common.recipe import hardware

    first_target = next(iter(deployed["targets"].values()))
    metrics = {
        "model": name,
        **cfg["card"],
        "labels": cfg["data"].get("labels"),
        "data": data,
        "frontend": cfg.get(tasks.of(cfg).front_end_section),
        "model_info": model_info(model, example_inputs, deployed["quantization"]["io"], first_target.get("macs")),
        "hardware": hardware(),
        "training": {"epochs": trained.epochs_run, "seconds": round(trained.seconds_total, 1),
                     "seconds_per_epoch": round(trained.seconds_per_epoch, 2),
                     "final": trained.history[-1] if trained.history else None, **trained.setup(),
                     "hardware": trained.hardware or None},
        **deployed,
        "reproduce": reproduce + (" --profile quick" if args.profile == "quick" else "")
                     + (f" --weights zoo/artifacts/{name}/checkpoint.pt   # the published float weights"
                        + ("; without --weights the same command trains them" if cfg["train"]["epochs"]
                           else " (train.epochs 0: used as they are, no training)")
                        if getattr(args, "weights", None) else ""),
    }
    return metrics


def model_info(model: torch.nn.Module, example_inputs: tuple, io: dict, macs: int | None) -> dict:
    x = example_inputs[0]
    out = model.eval()(x)
    return {
        "params": int(sum(p.numel() for p in model.parameters())),
        "macs": macs,
        "input": {"shape": list(x.shape), "dtype": io["input"]["dtype"], "scale": io["input"]["scale"],
                  "zero_point": io["input"]["zero_point"]},
        "output": {"shape": list(out.shape), "dtype": io["output"]["dtype"], "scale": io["output"]["scale"],
                   "zero_point": io["output"]["zero_point"]},
    }


def finish(metrics: dict, cfg: dict, build_dir: Path, *, publish: bool = False, log=print) -> Path:
    """Write metrics.json and the card into the build; with `publish`, also into cards/ and zoo/artifacts/."""
    from tinyzoo.common import card

    metrics.setdefault("tools", tool_versions())
    metrics.setdefault("created", _dt.date.today().isoformat())
    metrics["config"] = cfg
    add_memory_fit(metrics, build_dir)
    save_yaml(cfg, build_dir / "config.resolved.yaml")
    tmp = build_dir / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    tmp.replace(build_dir / "metrics.json")
    card_path = card.write_card(metrics, build_dir / "card")
    for target in metrics.get("targets", {}):
        log(f"{target}: {build_dir / target / 'model.pte'}")
    log(f"card (preview): {card_path}")
    if publish:
        card_path = publish_build(metrics, build_dir, log=log)
    return card_path


def publish_build(metrics: dict, build_dir: Path, log=print) -> Path:
    """A finished build into the catalogue: its artifacts into zoo/artifacts/<model>, its card into cards/, the
    README table; `tinyzoo index` then records the files' sizes and hashes. Refused, naming the file, when the
    build is incomplete or its files are not the ones its metrics describe."""
    from tinyzoo.common import card
    from tinyzoo.common.errors import ArtifactError

    build_dir = Path(build_dir)
    for file in ("checkpoint.pt", "model_int8.pt2", "config.resolved.yaml"):
        if not (build_dir / file).is_file():
            raise ArtifactError(f"{build_dir / file} is missing: the build did not finish; rerun `tinyzoo build "
                                f"{metrics['model']}` (it resumes)")
    for target, r in metrics.get("targets", {}).items():
        pte = build_dir / target / "model.pte"
        if not pte.is_file() or pte.stat().st_size != r["pte_bytes"]:
            raise ArtifactError(f"{pte} is {'missing' if not pte.is_file() else 'not the file metrics.json describes'}"
                                f" ({r['pte_bytes']} B): rerun the build before publishing")
    repo = checkout("publishing a card")
    # this card and every other card of the README table render before anything is written
    card.check_renders(metrics, build_dir / "metrics.json")
    others = {p: card.load_metrics(p) for p in sorted((repo / "cards").glob("*/metrics.json"))
              if p.parent.name != card.model_stem(metrics["model"])}
    for path, other in others.items():
        card.check_renders(other, path)
    card.render_model_table([*others.values(), metrics])
    card_path = card.write_card(metrics, repo / "cards")
    publish_artifacts(metrics["model"], build_dir)
    card.refresh_readme_table(repo / "cards", repo / "README.md")
    log(f"published: {card_path} and {ARTIFACTS / metrics['model']} (then `tinyzoo index`)")
    return card_path




def add_memory_fit(metrics: dict, artifact_dir: Path) -> dict:
    """Per target and board that carries it: the pools the reference app needs for this .pte and whether they
    fit (common/boards.py). Derived from the artifacts, so `tinyzoo card` can recompute it for a published model."""
    from tinyzoo.common.boards import fit_table

    rows = fit_table(artifact_dir, metrics=metrics)
    metrics["memory_fit"] = [{"target": r["target"], **({"program": r["program"]} if r.get("program") else {}),
                              "board": r["board"], "memory_mode": r["memory_mode"], "fits": r["fits"],
                              "summary": r["summary"], "pools": {p: v["bytes"] for p, v in r["pools"].items()}}
                             for r in rows]
    return metrics


def slim_checkpoint(source: Path, dest: Path) -> Path:
    """The published checkpoint: the trained weights and how they were trained, without the optimizer state
    that only resuming needs (a third of the size)."""
    state = torch.load(str(source), map_location="cpu", weights_only=False)
    keep = {k: state[k] for k in ("model", "epoch", "history", "config", "fingerprint", "record", "hardware", "seconds") if k in state}
    tmp = dest.with_name(dest.name + ".tmp")
    torch.save(keep if "model" in state else state, tmp)
    tmp.replace(dest)
    return dest


def publish_artifacts(name: str, build_dir: Path) -> Path:
    dest = ARTIFACTS / name
    stage = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    for file in layout.model_files(build_dir):
        (stage / file).parent.mkdir(parents=True, exist_ok=True)
        if file == "checkpoint.pt":
            slim_checkpoint(build_dir / file, stage / file)
        else:
            shutil.copy2(build_dir / file, stage / file)
    for target_dir in sorted(p for p in build_dir.iterdir() if (p / "model.pte").exists()):
        for file in layout.target_files(target_dir):
            (stage / target_dir.name / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target_dir / file, stage / target_dir.name / file)
    shutil.rmtree(dest, ignore_errors=True)
    stage.replace(dest)
    return dest


def load_artifacts(artifacts_dir: Path, cfg: dict, targets: list[str] | None = None):
    """A build's (or the published) float model, int8 fake-quant program, TOSA graphs per target and int8 I/O."""
    from tinyzoo.common.config import build_model
    from tinyzoo.common.errors import ArtifactError
    from tinyzoo.common.train import load_weights

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
