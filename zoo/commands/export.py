"""`tinyzoo export MODEL --target T`: the published int8 program (or a build folder's) lowered again for other
Ethos-U targets (common.pipeline.export_programs)."""
from __future__ import annotations

from pathlib import Path

from tinyzoo import preflight, registry, verify_artifacts

NAME = "export"


def add_parser(subparsers) -> None:
    s = subparsers.add_parser(NAME, help="lower the published int8 model for (other) Ethos-U targets (each "
                                         "program it has: a language model's decode step too)")
    s.add_argument("model")
    s.add_argument("--target", action="append", required=True)
    s.add_argument("--artifacts", type=Path, help="a build folder instead of the published artifacts")
    s.add_argument("--out", type=Path, help="output folder (default build/export/<model>)")
    s.add_argument("--allow-cpu-fallback", action="store_true")


def run(args) -> None:
    model = registry.get(args.model)
    preflight.check_targets(args.target)
    preflight.check_artifacts_dir(args.artifacts)
    artifacts = args.artifacts or model.artifacts_dir
    verify_artifacts.check(model, artifacts, verify_artifacts.export_files(artifacts),
                           published=args.artifacts is None, load=False)

    from tinyzoo.common.pipeline import export_programs

    export_programs(artifacts, args.target, args.out or Path("build") / "export" / model.name,
                    lambda folder: verify_artifacts.load_program(model, folder),
                    allow_cpu_fallback=args.allow_cpu_fallback)
