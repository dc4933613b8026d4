"""What every recipe build shares (`tinyzoo build`, `pipeline.build`): its arguments, build folder, calibration list."""
from __future__ import annotations

import argparse
import contextlib
import copy
import os
import random
import shutil
from pathlib import Path
from typing import Sequence

from tinyzoo.common import distributed, process, targets, tasks
from tinyzoo.common.config import (
    apply_overrides,
    as_override,
    load_config,
    load_recipe_config,
    validate,
)
from tinyzoo.common.errors import ConfigError, TinyzooError
from tinyzoo.common.layout import (
    ARTIFACTS,
    RECIPES,
    REFERENCE_FILE,
    REPO,
    shown,
    split_name,
    weights_file,
)
from tinyzoo.common.quantize import read_calibration_list, write_calibration_list
from tinyzoo.common.train import check_global_batch


def arguments(name: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_parser(name).parse_args(argv)
    check_nproc(name, args.nproc)
    return args


def build_parser(name: str, parser_class=argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = parser_class(prog=f"tinyzoo build {name}",
                          description=f"Train, quantize, lower, verify and report {name}.")
    add_build_arguments(parser)
    return parser


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", type=Path, help="dataset root (default: $TINYZOO_DATA, else the bundled sample)")
    parser.add_argument("--build-dir", type=Path, help="where the build goes (default: build/<task>/<model>)")
    parser.add_argument("--target", action="append", help="Ethos-U target(s) to lower for (default: the config's)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=5 (repeatable)")
    parser.add_argument("--profile", choices=["full", "quick"], default="full",
                        help="quick: the config's `quick` overrides (a few minutes on 2 CPU cores)")
    parser.add_argument("--new-calibration", action="store_true",
                        help="draw a new calibration list from this training set instead of the committed one")
    parser.add_argument("--no-resume", action="store_true", help="train from scratch even if a checkpoint exists")
    parser.add_argument("--weights", type=Path, metavar="CHECKPOINT",
                        help="start from these trained float weights instead of training: a finished checkpoint "
                             "(e.g. zoo/artifacts/<task>/<model>/checkpoint.pt), checked against the config as a "
                             "resume is; the chain then quantizes, lowers, verifies and writes the card")
    parser.add_argument("--init", metavar="WEIGHTS",
                        help="fine-tune from a published model's float weights (e.g. kws/ds_cnn.mlperf): its model "
                             "arguments and front end are kept, the classifier rows of labels it does not score are "
                             "initialised afresh; --set data.labels=[...] for your own words")
    parser.add_argument("--publish", action="store_true",
                        help="also write the card to cards/ and the artifacts to zoo/artifacts/ (maintainers)")
    parser.add_argument("--nproc", type=int, metavar="N",
                        help="train on N processes of this machine (PyTorch DDP under torchrun: gloo on CPUs, one "
                             "GPU each with nccl); train.batch_size stays the global batch")


def nproc_launch(name: str, argv: Sequence[str]) -> int | None:
    """`tinyzoo build NAME --nproc N`: the same build under torchrun in N processes of this machine (the other
    arguments unchanged); returns torchrun's exit code. None when there is nothing to launch (no --nproc, --nproc 1,
    --help, or already under torchrun)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--nproc", type=int)
    known, rest = parser.parse_known_args(list(argv))
    if known.nproc is not None and known.nproc < 1:
        raise ConfigError(f"--nproc {known.nproc}: the number of training processes must be at least 1")
    if known.nproc in (None, 1) or distributed.launched() or {"-h", "--help"} & set(rest):
        return None
    # the build's arguments and config checked here: a mistake is one line, not one traceback per process
    recipe, weights = split_name(name)
    check_global_batch(config(RECIPES / recipe, arguments(name, rest), weights)["train"]["batch_size"], known.nproc)
    return distributed.launch(known.nproc, ["tinyzoo", "build", name, *rest])


def check_nproc(name: str, nproc: int | None) -> None:
    """--nproc reaching a build: only as what torchrun already started (it launches from `tinyzoo build`)."""
    if nproc is None:
        return
    started = int(os.environ.get("WORLD_SIZE", "1"))
    if distributed.launched() and nproc != started:
        raise ConfigError(f"--nproc {nproc}, but torchrun started {started} processes: "
                          "leave --nproc out under torchrun")
    if not distributed.launched() and nproc > 1:
        raise ConfigError(f"--nproc is launched by the CLI: run `tinyzoo build {name} --nproc {nproc} ...`, or "
                          f"torchrun --nproc_per_node {nproc} $(which tinyzoo) build {name} ...")


def config(recipe_dir: Path, args: argparse.Namespace, weights: str | None = None) -> dict:
    """The recipe's config (with `weights`: that set of weights' overlay) with the profile, --set overrides and
    --target applied, every value checked against common.config.schema() (one ConfigError listing every problem)
    before any data is touched."""
    path = weights_file(recipe_dir, weights, "config.yaml")
    cfg = load_recipe_config(recipe_dir, weights)
    quick = cfg.pop("quick", {})
    if args.profile == "quick":
        cfg = apply_overrides(cfg, [as_override(k, v) for k, v in quick.items()])
    cfg = apply_overrides(cfg, args.set)
    if getattr(args, "init", None):
        cfg = initialised_config(cfg, args.init)
        changes_init = [f"--init {args.init}"]
    else:
        changes_init = []
    if args.target and isinstance(cfg.get("export"), dict):   # (a broken export section: validate says so)
        cfg["export"]["targets"] = list(args.target)
    for target in args.target or []:
        targets.check(target)  # the clearest message for a mistyped --target
    changes = [f"--profile {args.profile}"] * (args.profile != "full") + [f"--set {s}" for s in args.set] \
        + changes_init
    validate(cfg, shown(path)
                  + (f" with {' '.join(changes)}" if changes else ""))
    if cfg["train"]["epochs"] == 0 and getattr(args, "weights", None) is None:
        raise ConfigError(NO_WEIGHTS)
    cfg["profile"] = args.profile
    return cfg


def published_weights(name: str, option: str) -> tuple[Path, dict]:
    """The folder of a published model's float weights (`zoo/artifacts/<name>/checkpoint.pt`) and its resolved
    config, as `option` (--init, train.distill.teacher) names it; a one-line ConfigError when it has none."""
    folder = ARTIFACTS / name
    if not (folder / "config.resolved.yaml").is_file() or not (folder / "checkpoint.pt").is_file():
        raise ConfigError(f"{option}: no published model with its weights at {folder} (a name `tinyzoo list` "
                          f"shows; `tinyzoo pull {name}` fetches its checkpoint)")
    return folder, load_config(folder / "config.resolved.yaml")


def initialised_config(cfg: dict, name: str) -> dict:
    """`--init NAME`: the config fine-tunes from the published float weights of NAME (`train.init`), which fix
    what they mean — the model's arguments and the front end its input comes from — so both come from NAME's
    resolved config; `num_classes` follows this config's labels (`pipeline.initialise` carries over the rows of the
    labels both know)."""
    _, theirs = published_weights(name, f"--init {name}")
    if theirs["model"]["name"] != cfg["model"]["name"]:
        raise ConfigError(f"--init {name}: its weights are a {theirs['model']['name']}, this recipe builds a "
                          f"{cfg['model']['name']} (give weights of the same model)")
    cfg = copy.deepcopy(cfg)
    args = dict(theirs["model"].get("args", {}))
    if "num_classes" in args and isinstance(cfg.get("data", {}).get("labels"), list):
        args["num_classes"] = len(cfg["data"]["labels"])
    cfg["model"]["args"] = args
    section = tasks.of(cfg).front_end_section
    if section in theirs:
        cfg[section] = copy.deepcopy(theirs[section])
    cfg["train"]["init"] = name
    return cfg


NO_WEIGHTS = "train.epochs is 0: the float weights come from --weights CHECKPOINT (no training)"
LOCK_FILE = ".tinyzoo-build.lock"


@contextlib.contextmanager
def build_lock(path: Path, log=print):
    """One build at a time in a build folder: `<build>/.tinyzoo-build.lock` holds the building process's pid
    (created atomically). A second build into the folder is refused naming that pid; a lock left by a process that
    no longer runs (a killed build) is said and cleared. Under torchrun only process 0 (RANK 0) takes it: the
    others are that same build."""
    if int(os.environ.get("RANK", "0")) != 0:
        yield path
        return
    lock = path / LOCK_FILE
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            text = lock.read_text().strip() if lock.exists() else ""
            pid = int(text) if text.isdigit() else 0
            if pid and process.alive(pid):
                raise ConfigError(f"{path} is in use by another build (pid {pid}): wait for it to finish, or pass "
                                  f"another --build-dir") from None
            log(f"{lock}: left by a build that no longer runs (pid {pid or '?'}): cleared")
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        break
    try:
        yield path
    finally:
        lock.unlink(missing_ok=True)


def build_dir(name: str, args: argparse.Namespace) -> Path:
    """The build's folder; with --weights, the given checkpoint becomes the build's training checkpoint."""
    path = args.build_dir or (REPO or Path.cwd()) / "build" / name
    path.mkdir(parents=True, exist_ok=True)
    weights = getattr(args, "weights", None)
    if weights is not None:
        if args.no_resume:
            raise ConfigError("--weights starts from trained weights and --no-resume trains from scratch: pass one")
        if not Path(weights).is_file():
            raise ConfigError(f"--weights {weights}: no such file (a checkpoint.pt written by `tinyzoo build`)")
        for file in ("checkpoint.pt", REFERENCE_FILE):   # the weights, and a reference model beside them
            source = Path(weights) if file == "checkpoint.pt" else Path(weights).parent / file
            if source.is_file() and source.resolve() != (path / file).resolve():
                tmp = path / (file + ".tmp")
                shutil.copyfile(source, tmp)
                tmp.replace(path / file)
    return path


def calibration_indices(train_ids: list[str], recipe_dir: Path, build: Path, *, count: int, seed: int,
                        new: bool = False, weights: str | None = None) -> list[int]:
    """Indices into the training set of the committed calibration list (recipe_dir/calibration.txt, or
    weights/<tag>.calibration.txt for another set of the recipe's weights).

    The list is data: the same clips calibrate every build, so int8 numbers are reproducible. `new` draws a
    fresh list from this training set (seeded) — needed when training on different data."""

    committed = weights_file(recipe_dir, weights, "calibration.txt")
    position = {clip_id: i for i, clip_id in enumerate(train_ids)}
    if new or not committed.exists():
        unique = sorted(set(train_ids))
        chosen = sorted(random.Random(seed).sample(unique, min(count, len(unique))))
        write_calibration_list(chosen, build / "calibration.txt",
                               header=f"calibration clips: {len(chosen)} training ids drawn with seed {seed}")
        return [position[c] for c in chosen]
    ids = read_calibration_list(committed)
    missing = [c for c in ids if c not in position]
    if missing:
        raise TinyzooError(
            f"{len(missing)} of {len(ids)} calibration ids in {committed} are not in this training set "
            f"(first: {missing[0]}). Train on the data the list was made from, or pass --new-calibration "
            f"to draw a list from your data.")
    write_calibration_list(ids, build / "calibration.txt",
                           header=f"calibration clips: {len(ids)} (from {committed.name})")
    return [position[c] for c in ids]
