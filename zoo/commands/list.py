"""`tinyzoo list`: the models, their task and published figures (no torch)."""
from __future__ import annotations

import json

from tinyzoo import registry
from tinyzoo.common import tasks

NAME = "list"


def add_parser(subparsers) -> None:
    s = subparsers.add_parser(NAME, help="list the models")
    s.add_argument("--json", action="store_true")


def run(args) -> None:
    rows, statuses = [], []
    for name in registry.list_models():
        model = registry.get(name)
        metrics = model.metrics() if model.published else {}
        task = tasks.of(model.config)
        row = {"model": name, "task": task.name, "published": model.published,
               "targets": sorted(metrics.get("targets", {})), **(task.list_figures(metrics) if metrics else {})}
        rows.append(row)
        statuses.append(task.list_status(row) if model.published else "not published yet")
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    # where a recipe has several published weights, which of them its bare name loads (`tinyzoo.load`)
    defaults = {registry.default_weights(row["model"]): row["model"] for row in rows
                if row["published"] and registry.get(row["model"]).weights is None}
    width = max([24] + [len(row["model"]) for row in rows])
    for row, status in zip(rows, statuses):
        recipe = defaults.get(row["model"])
        default = f"  ← the default weights of {recipe}" if recipe and recipe != row["model"] else ""
        print(f"{row['model']:<{width}} {row['task']:<20} {status}{default}")
