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
    width = max([24] + [len(row["model"]) for row in rows])
    for row, status in zip(rows, statuses):
        print(f"{row['model']:<{width}} {row['task']:<20} {status}")
