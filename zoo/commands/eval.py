"""`tinyzoo eval MODEL`: the published model (or a build folder) evaluated: float, int8 fake-quant and the int8
TOSA graph of each target, every file it reads checked first."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from tinyzoo import preflight, registry, verify_artifacts
from tinyzoo.common import build_record, tasks
from tinyzoo.common.config import load_config

NAME = "eval"


def add_parser(subparsers) -> None:
    s = subparsers.add_parser(NAME, help="evaluate the published model (float, int8 fake-quant, int8 TOSA reference)")
    s.add_argument("model")
    s.add_argument("--data-root", type=Path, help="a folder in the dataset's standard layout, all of it evaluated "
                                                  "(a language model: also the text file itself)")
    s.add_argument("--target", action="append", help="only these targets' TOSA graphs")
    s.add_argument("--artifacts", type=Path, help="a build folder instead of the published artifacts")
    s.add_argument("--json", action="store_true")


def run(args) -> None:
    model = registry.get(args.model)
    task = tasks.of(model.config)
    preflight.check_targets(args.target)
    preflight.check_artifacts_dir(args.artifacts)
    preflight.check_data_root(model.config, args.data_root, needed=task.needs_data_root(model.config),
                              file_ok=task.eval_data_file_ok)
    args.data_root = preflight.given_data_root(args.data_root)[0]
    artifacts, cfg, args.target = _verified_eval_artifacts(model, task, args)
    result = task.evaluate_artifacts(artifacts, cfg, args.data_root, args.target, log=_note)
    result["model"], result["artifacts"] = model.name, str(artifacts)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    print("\n".join(task.eval_lines(model.name, result)))


def _note(message: str) -> None:
    """What a command changed or skipped in the user's input (resampled clips, unreadable files): on stderr."""
    print(f"tinyzoo: {message}", file=sys.stderr)


def _verified_eval_artifacts(model, task, args) -> tuple[Path, dict, list[str]]:
    """The artifacts folder, its config and the targets to evaluate, every file eval reads checked first."""
    artifacts = args.artifacts or model.artifacts_dir
    targets = verify_artifacts.choose_targets(model, artifacts, args.target)
    files = verify_artifacts.eval_files(artifacts, targets, task.eval_files)
    recorded = verify_artifacts.check(model, artifacts, files, published=args.artifacts is None)
    if args.artifacts is not None:
        _note(f"used from {artifacts}: {', '.join(files)}"
              + (f" (each the file its {build_record.RECORD} records)" if recorded
                 else f" (no {build_record.RECORD}: checked intact, not that the build wrote them)"))
    cfg_path = artifacts / "config.resolved.yaml"
    return artifacts, load_config(cfg_path) if cfg_path.exists() else model.config, targets
