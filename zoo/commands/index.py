"""`tinyzoo index` (maintainers): zoo/index.json regenerated from zoo/artifacts/."""
from __future__ import annotations

from tinyzoo import hub

NAME = "index"


def add_parser(subparsers) -> None:
    subparsers.add_parser(NAME, help="maintainers: regenerate zoo/index.json from zoo/artifacts/ "
                                     "(scripts/publish_hub.py pins each model's Hub commit)")


def run(args) -> None:
    path = hub.write_index(hub.build_index())
    print(f"{path}: {len(hub.load_index(path)['models'])} model(s)")
