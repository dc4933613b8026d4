"""The one chain of every recipe: `build` runs data → fit → per program the task exports: `chain.deploy` (int8 →
lower per target → verify → report) → metrics and card, its task (common/tasks/) saying what differs. `publish_build`
puts a finished build into the catalogue; `export_programs` lowers a build's (or the published) int8 programs again
(`tinyzoo export`). Everything a card says comes from the metrics dict this module writes (`<build>/metrics.json`).
"""
from __future__ import annotations

import datetime as _dt
import json
import shutil
from pathlib import Path
from typing import Callable

import torch
from tinyzoo.common import build_record, card, distributed, layout, lower, recipe, tasks
from tinyzoo.common import quantize as q
from tinyzoo.common.boards import fit_table, memory_fit_lines
from tinyzoo.common.builders import build_model
from tinyzoo.common.chain import (
    deploy,
    qat_batch,
    qat_fine_tune,
    read_reference_inputs,
    reference_model,
    write_target_reference,
)
from tinyzoo.common.config import load_config, resolved, save_yaml, tool_versions
from tinyzoo.common.errors import ArtifactError, ConfigError, DependencyError
from tinyzoo.common.layout import ARTIFACTS, checkout, split_name
from tinyzoo.common.train import (
    TrainResult,
    fit,
    float_weights,
    hardware,
    load_weights,
    seed_everything,
    weights_shaped_by,
)


def build(name: str, recipe_dir: Path, argv=None) -> Path:
    """The one chain of every recipe, top to bottom: data → fit → int8 → for each program the model exports ×
    each target: lower → evaluate on the TOSA reference → Vela report → metrics and card (in the build folder;
    `--publish` or `tinyzoo publish` puts them in the catalogue). What differs per task is its `Task`
    (common/tasks/): its data, its training view, its programs and their evaluation."""
    args = recipe.arguments(name, argv)
    weights = split_name(name)[1]
    cfg = recipe.config(recipe_dir, args, weights)
    with recipe.build_lock(recipe.build_dir(name, args)) as build_dir:
        return _build(name, recipe_dir, args, cfg, weights, build_dir)


def _build(name: str, recipe_dir: Path, args, cfg: dict, weights: str | None, build_dir: Path) -> Path:
    task = tasks.of(cfg)
    reference_model(cfg, build_dir)   # a reference .tflite the config names is there before any data is read
    distributed.init()   # under torchrun: one of several training processes
    seed_everything(cfg["train"]["seed"])

    # 1. Data: the training split (and validation) for training, the test split for testing only.
    data = task.load_data(cfg, args.data_root, build_dir)
    training = task.training(cfg, data)
    compared = compared_with(cfg["card"]["compare_with"], task.data_summary(cfg, data)) \
        if cfg["card"].get("compare_with") else None

    # 2-3. The float model, trained (or resumed, or from --weights; with train.epochs 0 the --weights as they are,
    # e.g. a reference model's converted weights).
    model = build_model(cfg)
    source, initialised = None, None
    if cfg["train"].get("init"):
        initialised = initialise(model, cfg)
    if cfg["train"]["epochs"] == 0:
        trained, source = given_weights(model, build_dir / "checkpoint.pt", args.weights)
    else:
        teacher = distillation_teacher(cfg)
        trained = fit(model, data.train, cfg["train"], build_dir / "checkpoint.pt", **training,
                      resume=not args.no_resume, shaped_by=weights_shaped_by(cfg, data.train), teacher=teacher)
        if teacher is not None and cfg["train"]["distill"].get("compare"):
            training = {**training, "student_alone": student_alone(cfg, data.train, training, build_dir,
                                                                   resume=not args.no_resume)}
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
                        score=program.score, program=program.name, quality_key=task.quality)
        (program.store or (lambda r, d: d.update(r)))(result, deployed)
        example = example or program.example_inputs
    metrics = recipe_metrics(name, cfg, args, model, example, trained, deployed, data=task.data_summary(cfg, data),
                             reproduce=f"tinyzoo build {name} --data-root <{task.data_hint(cfg)}>")
    if compared:
        metrics["compared_with"] = compared
    if initialised:
        metrics["training"]["init"] = initialised
    if source:
        metrics["weights_source"] = source
    return finish(metrics, resolved(cfg), build_dir, publish=args.publish)


def distillation_teacher(cfg: dict) -> torch.nn.Module | None:
    """`train.distill.teacher`: a published model (zoo/artifacts/<name>/: its resolved config and float weights) as
    a module on this recipe's model input (`Task.teacher_view`), or None without `train.distill`."""
    distill = cfg["train"].get("distill")
    if not distill:
        return None
    folder, teacher_cfg = recipe.published_weights(distill["teacher"],
                                                   f"train.distill.teacher = {distill['teacher']!r}")
    teacher = load_weights(build_model(teacher_cfg), folder / "checkpoint.pt")
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return tasks.of(cfg).teacher_view(teacher, teacher_cfg, cfg)


def initialise(model: torch.nn.Module, cfg: dict) -> dict:
    """`train.init`: the published float weights of that model loaded into `model` before training. Every tensor
    of the same shape is taken as it is; a classifier's rows (a tensor whose first dimension is the number of
    labels) are taken for each label both label lists hold and drawn afresh for the others. Returns what was
    carried over, for the metrics and the card."""
    name = cfg["train"]["init"]
    folder, theirs = recipe.published_weights(name, f"--init {name}")
    state = float_weights(folder / "checkpoint.pt")
    old_labels = theirs.get("data", {}).get("labels") or []
    new_labels = cfg.get("data", {}).get("labels") or []
    shared = [(old_labels.index(label), i) for i, label in enumerate(new_labels) if label in old_labels]
    own = model.state_dict()
    kept, rows = [], []
    for key, value in own.items():
        given = state.get(key)
        if given is None:
            continue
        if given.shape == value.shape and (old_labels == new_labels or given.shape[:1] != (len(old_labels),)):
            own[key] = given
            kept.append(key)
        elif given.dim() and given.shape[0] == len(old_labels) and value.shape[0] == len(new_labels) \
                and given.shape[1:] == value.shape[1:]:
            for old, new in shared:
                own[key][new] = given[old]
            rows.append(key)
    model.load_state_dict(own)
    return {"from": name, "checkpoint_sha256": build_record.sha256_of(folder / "checkpoint.pt"),
            "tensors_taken": len(kept), "tensors": len(own), "classifier": rows,
            "labels_carried_over": [new_labels[i] for _, i in shared],
            "labels_new": [label for label in new_labels if label not in old_labels]}


def student_alone(cfg: dict, train_set, training: dict, build_dir: Path, *, resume: bool) -> torch.nn.Module:
    """`train.distill.compare`: the same student trained without its teacher — same data, epochs, schedule and
    seed — whose float accuracy the card shows beside the distilled one's (checkpoint `student_alone.pt`)."""
    seed_everything(cfg["train"]["seed"])
    model = build_model(cfg)
    alone = {key: value for key, value in cfg["train"].items() if key != "distill"}
    fit(model, train_set, alone, build_dir / "student_alone.pt", **training, resume=resume,
        shaped_by=weights_shaped_by(cfg, train_set))
    return model.eval()


def compared_with(name: str, data: dict, log=print) -> dict:
    """`card.compare_with`: the accuracy figures of another published model (e.g. MLPerf Tiny's reference weights
    of the same network) measured on the same test data as this build's (`data`: `Task.data_summary`), for the
    card to print beside its own, or why not (`not_compared`: a build on other data, e.g. your own); a ConfigError,
    before any training, when that model is not published."""
    path = ARTIFACTS / name / "metrics.json"
    if not path.is_file():
        raise ConfigError(f"card.compare_with = {name!r}: no published metrics at {path} (a name `tinyzoo list` "
                          f"shows)")
    theirs = card.load_metrics(path)
    if theirs.get("data", {}).get("test") != data.get("test") or "accuracy" not in theirs:
        why = (f"measured on other test data ({theirs.get('data', {}).get('test', {}).get('images')} test samples "
               f"against this build's {data.get('test', {}).get('images')})")
        log(f"card.compare_with = {name}: not compared, {why}")
        return {"name": name, "not_compared": why}
    acc = theirs["accuracy"]
    return {"name": name, "float": acc["float"], "tosa_int8": acc["tosa_int8"],
            "tflite_int8": (acc.get("tflite_int8") or {}).get("int8"),
            "tflite_name": (theirs.get("tflite") or {}).get("name"), "metrics_sha256": build_record.sha256_of(path)}


def given_weights(model: torch.nn.Module, checkpoint: Path, weights: Path | None):
    """No training (train.epochs 0): the float weights of --weights (a state dict, or a checkpoint holding one
    under "model") loaded as they are; `recipe.build_dir` has copied them to the build's checkpoint. Returns the
    (empty) training result and where the weights came from (the checkpoint's "source", e.g. a converted
    reference model's provenance and parity figures), which the card records."""
    if weights is None:
        raise ConfigError(recipe.NO_WEIGHTS)
    state = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    try:
        model.load_state_dict(state["model"] if isinstance(state, dict) and "model" in state else state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise ConfigError(f"--weights {weights} does not fit this model ({first})") from None
    model.eval()
    return TrainResult(), state.get("source") if isinstance(state, dict) else None


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
    metrics.setdefault("tools", tool_versions())
    metrics.setdefault("created", _dt.date.today().isoformat())
    metrics["config"] = cfg
    add_memory_fit(metrics, build_dir)
    save_yaml(cfg, build_dir / "config.resolved.yaml")
    tmp = build_dir / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    tmp.replace(build_dir / "metrics.json")
    card_path = card.write_card(metrics, build_dir / "card")
    build_record.write(build_dir)
    for target in metrics.get("targets", {}):
        log(f"{target}: {build_dir / target / 'model.pte'}")
    log(f"card (preview): {card_path}")
    failed = metrics.get("failed_targets") or {}
    if failed:   # `chain.deploy` went on without them: what the others gave is written, nothing is published
        raise DependencyError("; ".join(failed.values()) + f" — the other targets' results are written to "
                              f"{build_dir}")
    if publish:
        card_path = publish_build(metrics, build_dir, log=log)
    return card_path


def publish_build(metrics: dict, build_dir: Path, log=print) -> Path:
    """A finished build into the catalogue: its artifacts into zoo/artifacts/<model>, its card into cards/, the
    README table; `tinyzoo index` then records the files' sizes and hashes. Refused, naming the file, when the
    build is incomplete or its files are not the ones its metrics describe."""
    build_dir = Path(build_dir)
    for file in ("checkpoint.pt", "model_int8.pt2", "config.resolved.yaml"):
        if not (build_dir / file).is_file():
            raise ArtifactError(f"{build_dir / file} is missing: the build did not finish; rerun `tinyzoo build "
                                f"{metrics['model']}` (it resumes)")
    if metrics.get("failed_targets"):
        raise ArtifactError(f"{build_dir}: lowering failed for {', '.join(metrics['failed_targets'])}; a build is "
                            f"published with every target of its config")
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
    rows = fit_table(artifact_dir, metrics=metrics)
    metrics["memory_fit"] = [{"target": r["target"], **({"program": r["program"]} if r.get("program") else {}),
                              "board": r["board"], "memory_mode": r["memory_mode"], "fits": r["fits"],
                              "summary": r["summary"], "pools": {p: v["bytes"] for p, v in r["pools"].items()}}
                             for r in rows]
    return metrics


def export_programs(artifacts: Path, targets: list[str], out_dir: Path, load_program: Callable[[Path], object], *,
                    allow_cpu_fallback: bool = False, log=print) -> None:
    """`tinyzoo export`: every int8 program of a published or build folder lowered again for each target into
    <out_dir>/<target>/ (a further program into <out_dir>/<target>/<program>/), with the BundleIO program where the
    reference input is known and, for the model's program, its memory fit per board. `load_program(folder)`: the
    folder's checked int8 fake-quant program (tinyzoo.verify_artifacts.load_program)."""
    cfg = load_config(artifacts / "config.resolved.yaml")
    metrics = json.loads((artifacts / "metrics.json").read_text()) if (artifacts / "metrics.json").is_file() else {}
    # every program the folder holds: the model's, and each further one in <artifacts>/<program>/ (a language
    # model's KV-cache decode step)
    folders = [artifacts] + sorted(p.parent for p in artifacts.glob("*/model_int8.pt2"))
    failed: list[str] = []
    for folder in folders:
        name = None if folder == artifacts else folder.name
        program = load_program(folder)
        quantized = program.module()
        example = tuple(program.example_inputs[0]) if program.example_inputs else None
        # the model's reference input is recorded in its metrics, a further program's has its example's shapes
        recorded = metrics if name is None else {"reference": {"input_shapes": [list(x.shape) for x in example or ()]}}
        reference = read_reference_inputs(folder, recorded)
        io = q.io_quant_params(quantized) if name is None else None
        for target in targets:
            out = out_dir / target / (name or "")
            try:   # in a child process, as a build lowers (common/lower.py lower_in_child)
                low = lower.lower_in_child(folder / "model_int8.pt2", example, target, out, log=log,
                                           int8_io=cfg["export"].get("int8_io", True),
                                           allow_cpu_fallback=allow_cpu_fallback,
                                           input_layout=cfg["export"].get("input_layout", "NCHW"))
            except DependencyError as err:
                failed.append(str(err))
                log(f"FAILED {err}")
                continue
            log(f"{target}{' ' + name if name else ''}: {low.pte_path} ({low.pte_path.stat().st_size} B, "
                f"{low.npu_ops} NPU ops, {low.cpu_ops} CPU ops"
                + (f"; input int8 scale {io['input']['scale']:.6g} zero point {io['input']['zero_point']})"
                   if io else ")"))
            if reference is not None and low.whole:
                write_target_reference(low.pte_path, low.tosa_path, reference)
                log(f"  {low.pte_path.with_suffix('.bpte')}: BundleIO program with the reference input and the "
                    f"int8 output its TOSA graph computes (reference_output*.bin)")
            if name is None:   # the reference app runs the model's program
                for line in memory_fit_lines(low, metrics):
                    log(line)
    if failed:
        raise DependencyError("; ".join(failed) + f" — the other targets' programs are written to {out_dir}")


def slim_checkpoint(source: Path, dest: Path) -> Path:
    """The published checkpoint: the trained weights and how they were trained, without the optimizer state
    that only resuming needs (a third of the size)."""
    state = torch.load(str(source), map_location="cpu", weights_only=False)
    keep = {k: state[k] for k in ("model", "epoch", "history", "config", "fingerprint", "record", "hardware", "seconds")
            if k in state}
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


