"""`tinyzoo info MODEL`: a model's card, or its metrics with --json."""
from __future__ import annotations

import json

from tinyzoo import registry
from tinyzoo.common import card
from tinyzoo.common.errors import TinyzooError

NAME = "info"


def add_parser(subparsers) -> None:
    s = subparsers.add_parser(NAME, help="show a model's card (or its metrics with --json)")
    s.add_argument("model")
    s.add_argument("--json", action="store_true")


def run(args) -> None:
    model = registry.get(args.model)
    if args.json:
        print(json.dumps(model.metrics(), indent=2, sort_keys=True))
    elif model.card_path is not None and model.card_path.exists():
        print(model.card_path.read_text())
    elif model.published:   # an installed tinyzoo: the card from the metrics it ships
        print(card.render_card(model.metrics()))
    else:
        raise TinyzooError(f"{model.name} has no card yet; build it with `tinyzoo build {model.name}`")
