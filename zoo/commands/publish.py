"""`tinyzoo publish` (maintainers): common.pipeline.publish_build on a finished build folder."""
from __future__ import annotations

from pathlib import Path

from tinyzoo import registry
from tinyzoo.common import card

NAME = "publish"


def add_parser(subparsers) -> None:
    s = subparsers.add_parser(NAME, help="maintainers: a finished build folder into zoo/artifacts/, cards/ and the "
                                         "README table (then `tinyzoo index`)")
    s.add_argument("build", type=Path, help="the build folder (build/<task>/<model>)")


def run(args) -> None:
    """`tinyzoo publish BUILD_DIR`: a finished build into zoo/artifacts/, cards/ and the README table."""
    from tinyzoo.common.pipeline import publish_build

    metrics = card.load_metrics(args.build / "metrics.json")
    model = registry.get(metrics.get("model") or "")
    publish_build(metrics, args.build)
    print(f"now `tinyzoo index` records {model.name}'s files in zoo/index.json")
