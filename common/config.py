"""Recipe configuration: one YAML file per recipe, resolved and recorded into every build and card."""
from __future__ import annotations

import copy
import datetime as _dt
import functools
import importlib
import importlib.metadata
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from tinyzoo.common import builders, card_text, targets, tasks
from tinyzoo.common.data.synthetic_speech import ENGINE_WEIGHTS
from tinyzoo.common.errors import ConfigError, TinyzooError
from tinyzoo.common.layout import weights_file
from tinyzoo.common.schema import (
    INT_NONNEG,
    INT_POS,
    LABELS,
    NUM_NONNEG,
    NUM_POS,
    OPT_TEXT,
    TEXT,
    Choose,
    Key,
    Section,
    check_section,
    lookup,
    optional,
)
from tinyzoo.common.tasks import TASKS

TOOL_PACKAGES = {
    "torch": "torch",
    "torchaudio": "torchaudio",
    "torchvision": "torchvision",
    "executorch": "executorch",
    "torchao": "torchao",
    "vela": "ethos-u-vela",
    "tosa_tools": "tosa-tools",
}


class _Loader(yaml.SafeLoader):
    """YAML as users write numbers: PyYAML follows YAML 1.1, where `3e-5` (no dot) is a string; YAML 1.2 and
    every other reader take it as the float it is."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
               r"|[0-9][0-9_]*[eE][-+]?[0-9]+|\.(?:inf|Inf|INF)|[-+]\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


def parse_yaml(text: str):
    return yaml.load(text, Loader=_Loader)


def load_config(path: str | Path) -> dict:
    path = Path(path)
    try:
        cfg = parse_yaml(path.read_text())
    except FileNotFoundError:
        raise TinyzooError(f"config file not found: {path}") from None
    except yaml.YAMLError as err:
        raise TinyzooError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(cfg, dict):
        raise TinyzooError(f"config file {path} must hold a mapping at the top level")
    return cfg


CARD_ORDER = ("title", "task", "summary", "intended_use", "frontend_matches", "data_note", "limitations")


def merged(base: dict, overlay: dict) -> dict:
    """`overlay` laid over `base`: mappings merge key by key, any other value (a list too) replaces."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else copy.deepcopy(value)
    return out


def load_recipe_config(recipe_dir: str | Path, weights: str | None = None) -> dict:
    """A recipe's config.yaml with its card prose (card.md beside it, common.card_text) in the card section, as
    every build records it. `weights` names another set of the recipe's weights (`weights/<tag>.yaml`: a partial
    config laid over config.yaml, e.g. MLPerf Tiny's reference weights with their front end and PTQ only; its
    card prose in `weights/<tag>.md`)."""
    recipe_dir = Path(recipe_dir)
    cfg = load_config(recipe_dir / "config.yaml")
    if weights is not None:
        overlay = weights_file(recipe_dir, weights, "config.yaml")
        if not overlay.is_file():
            raise TinyzooError(f"no weights {weights!r} for {recipe_dir.name}: {overlay} does not exist")
        cfg = merged(cfg, load_config(overlay))
    card = cfg.get("card")
    if isinstance(card, dict):   # (a broken card section: validate says so)
        merged_card = {**card, **card_text.read(weights_file(recipe_dir, weights, "card.md"))}
        cfg["card"] = {**{k: merged_card[k] for k in CARD_ORDER if k in merged_card}, **merged_card}
    return cfg


def apply_overrides(cfg: dict, overrides: list[str] | None) -> dict:
    """Return a copy of cfg with `section.key=value` overrides applied (values parsed as YAML)."""
    cfg = copy.deepcopy(cfg)
    for item in overrides or []:
        if "=" not in item:
            raise TinyzooError(f"override {item!r} must look like section.key=value, e.g. train.epochs=5")
        dotted, raw = item.split("=", 1)
        keys = dotted.split(".")
        node = cfg
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                raise TinyzooError(f"override {item!r}: {key!r} is not a section of the config")
            node = node[key]
        if keys[-1] not in node and not _schema_has(cfg, keys):
            raise TinyzooError(
                f"override {item!r}: no key {keys[-1]!r} in section {'.'.join(keys[:-1]) or 'top level'} "
                f"(it has: {', '.join(sorted(node))})")
        node[keys[-1]] = parse_yaml(raw)
    return cfg


def _schema_has(cfg: dict, keys: list[str]) -> bool:
    """Whether the schema allows the (optional) key at this dotted path of `cfg`, which leaves it out: `--set`
    may then add it (e.g. train.distill, data.real_per_keyword)."""
    rule = Section(schema())
    node = cfg
    for key in keys:
        if isinstance(rule, Choose):
            which = lookup(cfg, rule.by) if "." in rule.by else (node if isinstance(node, dict) else {}).get(rule.by)
            rule = Section(rule.variants.get(which, {}))
        if not isinstance(rule, Section) or key not in rule.keys:
            return False
        rule, node = rule.keys[key], node.get(key) if isinstance(node, dict) else None
    return True


def tool_versions() -> dict[str, str]:
    versions = {}
    for name, dist in TOOL_PACKAGES.items():
        try:
            versions[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def resolved(cfg: dict, **extra: Any) -> dict:
    """The config as it was run: the recipe file, overrides applied, plus tool versions and the date."""
    out = copy.deepcopy(cfg)
    out["run"] = {"tools": tool_versions(), "date": _dt.date.today().isoformat(), **extra}
    return out


def save_yaml(data: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    tmp.replace(path)
    return path


def import_object(spec: str):
    """'package.module:attribute' -> the attribute."""
    module, _, attr = spec.partition(":")
    if not attr:
        raise TinyzooError(f"{spec!r} must look like 'package.module:function'")
    if module.split(".")[0] in ("common", "recipes"):   # the repository's folders, inside the tinyzoo package
        module = f"tinyzoo.{module}"
    return getattr(importlib.import_module(module), attr)


# --- the schema: every key a recipe config may hold, its type and range ------------------------------------------
# Checked by `validate()` when a config is resolved (common.recipe.config), before any data is touched.
# A section is a dict of key -> Key (or a nested Section / Choose). Unknown keys are errors.

def _targets() -> tuple[str, ...]:
    return targets.NAMES


def _linear_weights() -> tuple[str, ...]:
    from tinyzoo.common.quantize import LINEAR_WEIGHTS
    return LINEAR_WEIGHTS


def _schemes() -> tuple[str, ...]:
    from tinyzoo.common.quantize import SCHEMES
    return SCHEMES


def _engines() -> tuple[str, ...]:
    return tuple(ENGINE_WEIGHTS)




CARD = Section({
    "title": TEXT, "task": Key("str", choices=TASKS),
    "summary": TEXT, "intended_use": TEXT, "frontend_matches": TEXT, "data_note": OPT_TEXT,
    "limitations": Key("list", item=Key("str")), "license": TEXT,
    # another published model measured on the same test data, whose figures the card prints beside this one's
    # (e.g. MLPerf Tiny's reference weights of the same network; common/pipeline.py compared_with)
    "compare_with": Key("str", optional=True, nullable=True),   # null in a weights overlay: none
    "datasets": Key("list", min_length=1, item=Section({"name": TEXT, "id": TEXT, "license": TEXT,
                                                      "citation": OPT_TEXT})),
})

# the builder is the one recipes/<name>/model.py registers (common.builders), the evaluation the task's module
# (common.tasks): the resolved configs of older builds recorded them as 'package.module:function' strings, accepted
# (and not used) when such a config is read
OLD_WIRING = Key("import", optional=True)
MODEL = Section({"name": TEXT, "builder": OLD_WIRING, "args": Key("mapping", optional=True)})

DATA = Choose("dataset", {
    "speech_commands": {
        "dataset": TEXT, "eval": OLD_WIRING, "default_root": OLD_WIRING, "version": TEXT,
        "labels": LABELS, "sample_rate": INT_POS, "clip_samples": INT_POS, "unknown_fraction": optional(NUM_NONNEG),
        "real_keyword_repeat": optional(INT_POS), "silence_fraction": optional(NUM_NONNEG),
        # at most this many real training clips per keyword (seeded draw; 0: synthetic speech only)
        "real_per_keyword": optional(INT_NONNEG),
        "extra_real": Key("list", item=Key("str"), optional=True),
        "synthetic": Section({"enabled": Key("bool"), "per_word": INT_NONNEG, "unknown_per_word": INT_NONNEG,
                              "engines": Key("list", item=Key("str", choices=_engines), min_length=1),
                              "seed": optional(INT_NONNEG)}, optional=True),
    },
    "cifar10": {"dataset": TEXT, "eval": OLD_WIRING, "labels": LABELS,
                "extra_train": Key("list", item=Key("str"), optional=True)},
    "vww": {"dataset": TEXT, "eval": OLD_WIRING, "labels": LABELS, "test_fraction": Key("number", gt=0, lt=1),
            "redistributable": Key("bool", optional=True)},
    "tinystories": {"dataset": TEXT, "max_train_stories": Key("int", ge=1, nullable=True, optional=True),
                    "max_validation_stories": Key("int", ge=1, nullable=True, optional=True)},
})

FRONTEND = Choose("type", {
    "mfcc": {"type": TEXT, "sample_rate": INT_POS, "window_ms": NUM_POS, "hop_ms": NUM_POS,
             "n_fft": Key("int", ge=2), "n_mels": INT_POS, "f_min": NUM_NONNEG, "f_max": NUM_POS,
             "power": Key("number", choices=(1, 2)), "log_offset": NUM_POS, "n_mfcc": INT_POS,
             # MLPerf Tiny's KWS front end (common/frontend/mfcc.py): per-clip peak normalisation, TF's mel
             # triangles and TF's DCT scaling; the defaults are tinyzoo's own front end
             "normalize": Key("str", choices=("none", "peak"), optional=True),
             "mel_triangles": Key("str", choices=("hz", "mel"), optional=True),
             "dct": Key("str", choices=("ortho", "tf"), optional=True)},
    "image": {"type": TEXT, "size": Key("list", item=INT_POS, length=2),
              "mean": Key("list", item=Key("number"), length=3), "std": Key("list", item=NUM_POS, length=3),
              "channel_order": Key("str", choices=("RGB",), optional=True),
              "layout": Key("str", choices=("NCHW",), optional=True)},
}, optional=True)

AUGMENT = Choose("frontend.type", {
    "mfcc": {"time_shift_ms": optional(NUM_NONNEG), "noise_prob": Key("number", ge=0, le=1, optional=True),
             "noise_snr_db": Key("list", item=Key("number"), length=2, optional=True),
             "gain_db": Key("list", item=Key("number"), length=2, optional=True),
             "freq_masks": optional(INT_NONNEG), "freq_mask_width": optional(INT_NONNEG),
             "time_masks": optional(INT_NONNEG), "time_mask_width": optional(INT_NONNEG)},
    "image": {"crop_padding": optional(INT_NONNEG), "hflip": Key("bool", optional=True)},
}, optional=True)

TRAIN = Section({
    "epochs": INT_NONNEG, "batch_size": INT_POS, "optimizer": Key("str", choices=("adam", "adamw", "sgd")),
    "momentum": Key("number", ge=0, lt=1, optional=True), "lr": NUM_POS,
    "lr_schedule": Key("str", choices=("cosine", "constant"), optional=True), "warmup_epochs": optional(INT_NONNEG),
    "weight_decay": optional(NUM_NONNEG), "label_smoothing": Key("number", ge=0, lt=1, optional=True),
    "seed": INT_NONNEG, "augment": AUGMENT, "precision": Key("str", choices=("fp32", "bf16"), optional=True),
    # fine-tune from a published model's float weights (`--init`; common/pipeline.py initialise)
    "init": OPT_TEXT,
    # knowledge distillation from a published model (common/train.py fit, pipeline.distillation_teacher)
    # (compare: also train the student alone, same epochs and seed, and record both float accuracies)
    "distill": Section({"teacher": TEXT, "temperature": NUM_POS, "weight": Key("number", ge=0, le=1),
                        "compare": Key("bool", optional=True)}, optional=True),
})

QUANTIZE = Section({
    "scheme": Key("str", choices=_schemes),
    "ptq": Section({"samples": INT_POS,
                    # activation ranges: ExecuTorch's histogram (default) or min/max as TFLite (common/quantize.py)
                    "observer": Key("str", choices=("histogram", "minmax"), optional=True)}),
    "qat": Section({"enabled": Key("bool"), "epochs": optional(INT_POS), "lr": optional(NUM_POS)}),
    # the NPU-ready rewrites of stock layers before quantization (common/rewrites.py; default true)
    "rewrite": Key("bool", optional=True),
    # nn.Linear weights per output channel (default) or per tensor, as TFLite does (common/quantize.py)
    "linear_weights": Key("str", choices=_linear_weights, optional=True),
})

EXPORT = Section({"targets": Key("list", item=Key("str", choices=_targets), min_length=1),
                  "int8_io": Key("bool", optional=True), "allow_cpu_fallback": Key("bool", optional=True),
                  # the memory layout of the deployed program's 4-D inputs: NHWC as TFLite, cameras and the NPU
                  # itself hold an image (no transposes on the NPU), NCHW as PyTorch does (common/lower.py)
                  "input_layout": Key("str", choices=("NCHW", "NHWC"), optional=True),
                  # an integer graph that diverges from the fake-quant model stops the build (common/chain.py)
                  "strict": Key("bool", optional=True)})

# another tool's int8 model of the same network, measured beside the chain's (common/tflite_path.py): what to call
# it, the accuracy it is expected to reach and its output's label order when not the recipe's; the model is
# `reference.tflite` beside the --weights checkpoint
REFERENCE = Section({"name": TEXT, "labels": Key("list", item=Key("str"), min_length=2, optional=True),
                     "quality_target": Key("number", gt=0, le=1, optional=True)},
                    optional=True)

# the sections every recipe shares; a task adds its own (`Task.config_schema`: e.g. text generation's tokenizer,
# evaluate, generate and kv_cache), all of them optional here and required by the task (`Task.config_sections`)
SCHEMA = {
    "card": CARD, "model": MODEL, "data": DATA, "frontend": FRONTEND,
    "train": TRAIN, "quantize": QUANTIZE, "export": EXPORT, "reference": REFERENCE,
    "quick": Key("mapping", optional=True),                      # `--profile quick` overrides (section.key: value)
    "profile": Key("str", choices=("full", "quick"), optional=True),   # added by common.recipe.config
    "run": Key("mapping", optional=True),                        # added by resolved(): tools and date
}


@functools.cache
def schema() -> dict:
    """SCHEMA with every task's own sections (built once). A task's `Choose` for a shared section (`data`,
    `frontend`) adds its variants: its own dataset or front end."""
    out = dict(SCHEMA)
    for name in TASKS:
        for section, rule in tasks.get(name).config_schema().items():
            shared = out.get(section)
            if isinstance(shared, Choose) and isinstance(rule, Choose) and shared.by == rule.by:
                out[section] = replace(shared, variants={**shared.variants, **rule.variants})
            else:
                out[section] = replace(rule, optional=True)
    return out


def _cross_checks(cfg: dict) -> list[str]:
    """Relations between keys (only where every key involved passed its own check)."""
    out = []
    data, fe, model = cfg.get("data", {}), cfg.get("frontend") or {}, cfg.get("model", {})
    args = model.get("args") or {}
    task = tasks.of(cfg)
    out += [f"{s}: missing (required for a {task.name} recipe)" for s in task.config_sections if s not in cfg]
    out += task.config_problems(cfg)
    labels = data.get("labels")
    if "num_classes" in args and isinstance(labels, list) and args["num_classes"] != len(labels):
        out.append(f"model.args.num_classes = {args['num_classes']}: must equal the number of data.labels "
                   f"({len(labels)})")
    if data.get("dataset") == "speech_commands" and isinstance(labels, list):
        out += [f"data.labels: must include {name!r}" for name in ("_unknown_", "_silence_") if name not in labels]
    if fe.get("type") == "mfcc":
        sr, clip = fe["sample_rate"], data.get("clip_samples")
        win, hop = round(sr * fe["window_ms"] / 1000), round(sr * fe["hop_ms"] / 1000)
        if win > fe["n_fft"]:
            out.append(f"frontend.window_ms = {fe['window_ms']}: a window of {win} samples at {sr} Hz is longer "
                       f"than frontend.n_fft = {fe['n_fft']} (window_ms * sample_rate / 1000 must be <= n_fft)")
        if isinstance(clip, int) and win > clip:
            out.append(f"frontend.window_ms = {fe['window_ms']}: a window of {win} samples is longer than the "
                       f"clip (data.clip_samples = {clip})")
        if win < 1 or hop < 1:
            out.append(f"frontend.window_ms / hop_ms = {fe['window_ms']} / {fe['hop_ms']}: less than one sample "
                       f"at {sr} Hz")
        if fe["f_max"] > sr / 2:
            out.append(f"frontend.f_max = {fe['f_max']}: must be <= sample_rate / 2 = {sr / 2:g}")
        if fe["f_min"] >= fe["f_max"]:
            out.append(f"frontend.f_min = {fe['f_min']}: must be below frontend.f_max = {fe['f_max']}")
        if fe["n_mfcc"] > fe["n_mels"]:
            out.append(f"frontend.n_mfcc = {fe['n_mfcc']}: must be <= frontend.n_mels = {fe['n_mels']}")
        if data.get("sample_rate") not in (None, sr):
            out.append(f"frontend.sample_rate = {sr}: must equal data.sample_rate = {data['sample_rate']}")
        if "n_mfcc" in args and args["n_mfcc"] != fe["n_mfcc"]:
            out.append(f"model.args.n_mfcc = {args['n_mfcc']}: must equal frontend.n_mfcc = {fe['n_mfcc']}")
        if "frames" in args and isinstance(clip, int) and hop >= 1 and win <= clip \
                and args["frames"] != 1 + (clip - win) // hop:
            out.append(f"model.args.frames = {args['frames']}: the front end makes {1 + (clip - win) // hop} "
                       f"frames from {clip} samples")
    if fe.get("type") == "image" and "image_size" in args and args["image_size"] != fe["size"][0]:
        out.append(f"model.args.image_size = {args['image_size']}: must equal frontend.size[0] = {fe['size'][0]}")
    if "heads" in args and "dim" in args and args["dim"] % args["heads"]:
        out.append(f"model.args.heads = {args['heads']}: must divide model.args.dim = {args['dim']}")
    if "image_size" in args and "patch" in args and args["image_size"] % args["patch"]:
        out.append(f"model.args.patch = {args['patch']}: must divide model.args.image_size = {args['image_size']}")
    tr = cfg.get("train", {})
    qat = cfg.get("quantize", {}).get("qat", {})
    out += [f"quantize.qat.{k}: missing (required when quantize.qat.enabled is true)"
            for k in ("epochs", "lr") if qat.get("enabled") and k not in qat]
    if qat.get("enabled") and cfg.get("quantize", {}).get("linear_weights") == "per_tensor":
        out.append("quantize.linear_weights = 'per_tensor': for PTQ only (QAT quantizes them per channel); set "
                   "quantize.qat.enabled to false or leave linear_weights out")
    for name in ("noise_snr_db", "gain_db"):
        pair = (tr.get("augment") or {}).get(name)
        if pair and pair[0] > pair[1]:
            out.append(f"train.augment.{name} = {pair}: the first value (low) must be <= the second (high)")
    return out


def config_problems(cfg: dict) -> list[str]:
    """Every problem of a config against SCHEMA (one line each); empty when it is valid. A `quick` profile is
    checked too, by applying it to a copy."""
    problems: list[str] = []
    check_section("", cfg, schema(), problems, cfg)
    name, args = (cfg.get("model") or {}).get("name"), (cfg.get("model") or {}).get("args")
    if isinstance(name, str) and isinstance(args, dict):
        try:
            check_section("model.args", args, builders.args_schema(builders.get_builder(name)), problems, cfg)
        except TinyzooError as err:
            problems.append(f"model.name = {name!r}: {err}")
    if not problems:
        problems += _cross_checks(cfg)
    quick = cfg.get("quick")
    if isinstance(quick, dict) and quick:
        base = {k: v for k, v in cfg.items() if k != "quick"}
        try:
            profile = apply_overrides(base, [as_override(k, v) for k, v in quick.items()])
        except TinyzooError as err:
            problems.append(f"quick: {err}")
        else:
            problems += [f"quick profile: {p}" for p in config_problems(profile) if p not in problems]
    return problems


def as_override(dotted: str, value) -> str:
    """`section.key=value` with the value as one line of YAML (what apply_overrides parses back)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 20).strip()
    return f"{dotted}={text.removesuffix('...').strip()}"


def validate(cfg: dict, origin: str = "the config") -> dict:
    """Raise one ConfigError listing every problem of `cfg` (one line each: key, value, what is allowed)."""
    problems = config_problems(cfg)
    if problems:
        raise ConfigError(f"{origin} has {len(problems)} invalid value(s):\n  " + "\n  ".join(problems))
    return cfg
