"""`tinyzoo build MODEL [options]`: train → quantize → lower → verify → card for one model (the options are its
recipe's: common/recipe.py)."""
from __future__ import annotations

from tinyzoo import preflight, registry
from tinyzoo.commands import OneLineParser
from tinyzoo.common import tasks
from tinyzoo.common.errors import TinyzooError

NAME = "build"


def add_parser(subparsers) -> None:
    s = subparsers.add_parser(NAME, help="train → quantize → lower → verify → card (options: tinyzoo build MODEL "
                                         "--help)", add_help=False)
    s.add_argument("model", nargs="?")


def run(args, rest: list[str]) -> int:
    """`rest`: the options the top-level parser left, the model's build options."""
    from tinyzoo.common.recipe import nproc_launch

    if args.model is None:
        if "-h" in rest or "--help" in rest:
            print(_build_help())
            return 0
        raise TinyzooError(f"build needs a model: tinyzoo build MODEL [options]; models: "
                           f"{', '.join(registry.list_models())}")
    model = registry.get(args.model)
    _check_build_arguments(model, rest)
    launched = nproc_launch(model.name, rest)   # --nproc N: the same build under torchrun
    if launched is not None:
        return launched
    from tinyzoo.common.pipeline import build

    build(model.name, model.recipe_dir, rest)
    return 0


def _build_help() -> str:
    return ("usage: tinyzoo build MODEL [options]\n\ntrain → quantize → lower → verify → card for one model.\n\n"
            "models:\n" + "\n".join(f"  {name}" for name in registry.list_models())
            + "\n\noptions of a model's build: tinyzoo build MODEL --help")


def _check_build_arguments(model, rest: list[str]) -> None:
    """Before the recipe imports its chain or reads data: the options parse, the targets exist, the config
    (with the profile and --set overrides) is valid and the data root is there."""
    from tinyzoo.common import recipe

    build_args = recipe.build_parser(model.name, OneLineParser).parse_args(rest)
    preflight.check_targets(build_args.target)
    cfg = recipe.config(model.recipe_dir, build_args, model.weights)
    preflight.check_data_root(cfg, build_args.data_root, needed=tasks.of(cfg).needs_data_root(cfg))
