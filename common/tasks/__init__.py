"""The Task interface: everything the chain, the CLI, the catalogue, the memory fit and the firmware header do
differently for a task is a method of its `Task`, and each task is one module of this package,
`common/tasks/<task>.py` (the task's name with `_` for `-`), holding `TASK`. Adding a task is adding its module
(and its recipes); nothing outside it asks which task a model is.

A recipe's config says its task (`card.task`) and a build's metrics carry it (`task`); `of(record)` is its
`Task`. A user's own model through `tinyzoo deploy` (task "user-model") is the base `Task`: quality is its
fidelity to float, its app holds its int8 input and output.

Task modules are light to import (the CLI lists models without torch): what needs torch, data or the chain is
imported where a method uses it."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tinyzoo.common import tflite_path
from tinyzoo.common.card_view import ACCURACY, FIDELITY
from tinyzoo.common.errors import ConfigError, TinyzooError

if TYPE_CHECKING:
    import torch

TASKS = tuple(sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


def task_of(record: dict) -> str | None:
    """The task name of a recipe config, a resolved config or a build's metrics (None for a user's deployed model)."""
    if record.get("task"):
        return record["task"]
    card = record.get("card") or record.get("config", {}).get("card") or {}
    return card.get("task")


def get(name: str | None) -> "Task":
    """The task named `name` (None or "user-model": a user's model, the base `Task`)."""
    if name is None or name == USER_MODEL.name:
        return USER_MODEL
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}: one of {', '.join(TASKS)}")
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}").TASK


def of(record: dict) -> "Task":
    """The task of a recipe config, a resolved config or a build's metrics."""
    return get(task_of(record))


def numel(shape) -> int:
    """The number of values of a tensor of this shape."""
    n = 1
    for d in shape:
        n *= int(d)
    return n


class Task:
    """One task's part of the chain and of everything that reads its builds. The base class is a user's own model
    (`tinyzoo deploy`: no data, no training; quality = fidelity of the int8 graph to float)."""

    name = "user-model"                    # the card's and the metrics' `task`
    quality = "fidelity"                   # the metrics' key of its quality ladder (its `card_view` shows it)
    config_sections: tuple[str, ...] = ()  # the sections its recipes' config must have
    eval_files: tuple[str, ...] = ()       # artifacts `tinyzoo eval` needs besides the weights and the programs
    eval_data_file_ok = False              # `tinyzoo eval --data-root` may name one file (not only a folder)
    front_end_section = "frontend"         # the config section its card and app take the front end from

    # --- its config ------------------------------------------------------------------------------------------

    def card_view(self):
        """How its card shows its quality figures (a `card_view.Quality`): fidelity of the int8 graph to float."""
        return FIDELITY

    def config_schema(self) -> dict:
        """Its own config sections (name → common.config Section), beside the ones every recipe has."""
        return {}

    def config_problems(self, cfg: dict) -> list[str]:
        """Relations between keys its recipes must keep (one line each), once every key passed its own check."""
        return []

    # --- its part of the chain (common.pipeline.build) ---------------------------------------------------

    def load_data(self, cfg: dict, root: Path | None, build_dir: Path):
        """Its data for a build: `.train` (items with `.ids`, for `train.fit` and the calibration list) and
        whatever `programs` evaluates on."""
        raise TinyzooError("a user's model is deployed by `tinyzoo deploy`, not built by `tinyzoo build`")

    def training(self, cfg: dict, data) -> dict:
        """How `train.fit` trains on its data: batch_transform (augmentation → front end), eval_set, forward."""
        return {}

    features_of = None   # (items, frontend cfg) → model inputs, for QAT on the other processes (classifiers)

    def teacher_view(self, teacher, teacher_cfg: dict, cfg: dict):
        """`teacher` (a published model, `train.distill`) as a module taking this recipe's model input: itself when
        both take the same front end's features of the same labels, else a ConfigError saying why not."""
        name = cfg["train"]["distill"]["teacher"]
        if teacher_cfg.get("data", {}).get("labels") != cfg.get("data", {}).get("labels"):
            raise ConfigError(f"train.distill.teacher = {name!r} has other labels than this recipe "
                              f"({teacher_cfg.get('data', {}).get('labels')}): a teacher scores the same classes")
        if teacher_cfg.get(self.front_end_section) != cfg.get(self.front_end_section):
            raise ConfigError(f"train.distill.teacher = {name!r} takes another front end than this recipe: "
                              f"distillation here needs the same model input")
        return teacher

    def programs(self, model, data, cfg: dict, build_dir: Path, calibration: list[int], training: dict):
        """The programs the trained model exports (`chain.Program`, one after the other: a later one may use
        what the earlier ones stored)."""
        raise NotImplementedError

    def data_summary(self, cfg: dict, data) -> dict:
        """What the data was, for the metrics and the card."""
        raise NotImplementedError

    def data_hint(self, cfg: dict) -> str:
        """What `--data-root` must hold, for the card's command that reproduces it."""
        raise NotImplementedError

    def default_data_root(self) -> tuple[Path, str] | None:
        """(folder, where it came from) when the user names no data root, or None when the data is needed."""
        return None

    def needs_data_root(self, cfg: dict) -> bool:
        """Whether a build of this config must be given its data (`--data-root` or $TINYZOO_DATA)."""
        return self.default_data_root() is None

    def transforms(self, cfg: dict, artifacts: Callable[[], Path]) -> "torch.nn.Module":
        """The front end as a torch module taking what the model's users feed it (`artifacts()`: the model's
        artifact folder, for a front end that lives there)."""
        raise ConfigError("a user's model has no front end: feed it its input tensor")

    def evaluate_artifacts(self, artifacts: Path, cfg: dict, root: Path | None, targets: list[str], log=print) -> dict:
        """`tinyzoo eval`: the quality ladder of a build's (or the published) artifacts on the data at `root`."""
        raise TinyzooError("a user's model has no test data: `tinyzoo deploy` measured its fidelity")

    def eval_lines(self, name: str, result: dict) -> list[str]:
        """What `tinyzoo eval` prints of `evaluate_artifacts`'s result."""
        return []

    # --- reading its builds -------------------------------------------------------------------------------

    def list_figures(self, metrics: dict) -> dict:
        """The figures `tinyzoo list` shows (and `--json` gives) for a published build."""
        return {}

    def list_status(self, row: dict) -> str:
        return ""

    def index_quality(self, metrics: dict) -> dict:
        """The catalogue's quality figures of a published model (zoo/index.json)."""
        return {}

    def index_target_quality(self, metrics: dict, target: str) -> dict:
        return {}

    # --- its firmware app (common/firmware/apps/) ---------------------------------------------------------

    def app_buffer_bytes(self, metrics: dict, program: str | None = None) -> int:
        """The app's own buffers besides the runtime's pools when it runs `program` (None: the model's first
        program; else a further one, e.g. "decode_step"): for a user's model, its int8 input and output."""
        info = metrics["model_info"]
        return numel(info["input"]["shape"]) + numel(info["output"]["shape"])

    def read_only_data_bytes(self, metrics: dict, program: str | None = None) -> int:
        """Read-only app data stored with the model (e.g. a language model's embedding table)."""
        return 0

    def header_front_end(self, front: dict | None, cfg: dict, input_shape, source: str) -> list[str]:
        """The app header's front-end part (common/firmware/app_header.py): the C front end's constants."""
        from tinyzoo.common.firmware import (
            header_lines,  # heavy (torch): the catalogue imports tasks
        )

        kind = front.get("type") if isinstance(front, dict) else None
        values = numel(input_shape) if input_shape else None
        if kind == "mfcc":
            return header_lines.mfcc_lines(front, cfg, values, source)
        if kind == "image":
            return header_lines.image_lines(front, input_shape, source,
                                           (cfg.get("export") or {}).get("input_layout", "NCHW"))
        raise ConfigError(f"{source}: front end type {kind!r} has no firmware front end (mfcc or image)")

    def header_task(self, cfg: dict, metrics: dict, source: str, *, artifact_dir: Path | None = None,
                    prompt: str | None = None, new_tokens: int | None = None) -> list[str]:
        """The app header's task part, after the int8 I/O: what the app does with the output."""
        return []


USER_MODEL = Task()


class Classification(Task):
    """What keyword spotting and image classification share: labelled test data, the accuracy ladder, the
    labels in the app."""

    quality = "accuracy"
    config_sections = ("frontend",)

    def card_view(self):
        return ACCURACY

    def programs(self, model, data, cfg, build_dir, calibration, training):
        """One program: the classifier on its front end's features, PTQ (optionally QAT fine-tuned), the accuracy
        ladder on the whole test split."""
        from tinyzoo.common import (
            chain,  # heavy (torch), as below: the catalogue imports tasks
        )
        from tinyzoo.common.verify import compare, logits_of

        calibration_features = self.features_of(data.train.subset(calibration), cfg["frontend"])
        test_features = self.features_of(data.test, cfg["frontend"])
        labels = data.test.labels

        def qat_train(qat_model, qat_cfg):
            chain.qat_fine_tune(qat_model, data.train, cfg, build_dir, training["batch_transform"])

        def evaluate(float_model, fake_quant, tosa_graphs, io):
            result = compare(float_model, fake_quant, test_features, labels, tosa_graphs, io,
                             len(cfg["data"]["labels"]))
            if training.get("student_alone") is not None:   # train.distill.compare: the student without teacher
                result["student_alone_float"] = accuracy_of(training["student_alone"])
            reference = chain.reference_model(cfg, build_dir)
            if reference is not None:   # another tool's int8 model of the network, on the same test data
                result["tflite_int8"] = tflite_path.accuracy(
                    reference, test_features, labels, logits_of(float_model, test_features).argmax(1),
                    names=cfg["data"]["labels"], reference_names=cfg["reference"].get("labels"))
            return result

        def accuracy_of(model):
            return float((logits_of(model, test_features).argmax(1) == labels).float().mean())

        reference, note = chain.public_reference(cfg, test_features[:1])

        def store(result, deployed):
            result["reference"]["sample"] = note
            if note == "first test sample":
                result["reference"]["label"] = labels[0].tolist()
            result["confusion"] = {"labels": cfg["data"]["labels"], **result["accuracy"].pop("confusion")}
            deployed.update(result)

        yield chain.Program(model, (test_features[:1],), chain.batches(calibration_features), evaluate,
                               reference, qat_train=qat_train, score=accuracy_of, store=store)

    def eval_features(self, cfg: dict, root: Path, log=print):
        """(features, labels, label names) of a folder in the task's dataset layout."""
        raise NotImplementedError

    def evaluate_artifacts(self, artifacts, cfg, root, targets, log=print) -> dict:
        """The float checkpoint, the int8 fake-quant program and each target's integer TOSA graph on the
        labelled data at `root` (a folder in the dataset's layout; None: the task's bundled sample)."""
        from tinyzoo.common.chain import load_artifacts
        from tinyzoo.common.verify import compare

        if root is None:   # its bundled sample (preflight lets only a task with one get here)
            root = self.default_data_root()[0]
        features, labels, _ = self.eval_features(cfg, root, log=log)
        model, fake_quant, tosa_graphs, io = load_artifacts(artifacts, cfg, targets)
        result = compare(model, fake_quant, features, labels, tosa_graphs, io, len(cfg["data"]["labels"]))
        result["confusion"]["labels"] = cfg["data"]["labels"]
        result["data_root"] = str(root)
        return result

    def eval_lines(self, name, result) -> list[str]:
        return [f"{name} on {result['samples']} test samples from {result['data_root']}",
                f"  float            {result['float']:.2%}",
                f"  int8 fake-quant  {result['fake_quant_int8']:.2%}",
                *(f"  int8 TOSA {target:<15} {acc:.2%}  (agrees with float on "
                  f"{result['agreement_int8_float'][target]:.2%})" for target, acc in result["tosa_int8"].items())]

    def list_figures(self, metrics) -> dict:
        return {"float": metrics.get("accuracy", {}).get("float"),
                "tosa_int8": metrics.get("accuracy", {}).get("tosa_int8")}

    def list_status(self, row) -> str:
        return (f"float {row['float']:.2%}, int8 (TOSA) "
                + ", ".join(f"{t} {a:.2%}" for t, a in (row["tosa_int8"] or {}).items()))

    def index_quality(self, m) -> dict:
        return {"float_accuracy": m["accuracy"]["float"], "test_samples": m["accuracy"]["samples"]}

    def index_target_quality(self, m, target) -> dict:
        return {"tosa_int8_accuracy": m["accuracy"]["tosa_int8"].get(target)}

    def classes(self, metrics: dict) -> int:
        return len(metrics.get("labels") or []) or metrics["model_info"]["output"]["shape"][-1]

    def header_task(self, cfg, metrics, source, **_) -> list[str]:
        from tinyzoo.common.firmware import header_lines

        labels = metrics.get("labels") or cfg.get("data", {}).get("labels") or []
        return header_lines.labels_lines(labels) if labels else []
