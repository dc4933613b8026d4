"""`tinyzoo card MODEL`: a model's card from its metrics.json, a preview or (maintainers, --publish) cards/ and the
README table."""
from __future__ import annotations

import json
from pathlib import Path

from tinyzoo import registry
from tinyzoo.common import card
from tinyzoo.common.errors import TinyzooError
from tinyzoo.common.layout import checkout

NAME = "card"


def add_parser(subparsers) -> None:
    s = subparsers.add_parser(NAME, help="write a model's card from metrics.json (a preview; --publish: cards/ and "
                                         "the README table)")
    s.add_argument("model")
    s.add_argument("--metrics", type=Path, help="a build's metrics.json (default: the published card's)")
    s.add_argument("--out", type=Path, help="where the preview goes (default: next to --metrics, else build/card)")
    s.add_argument("--publish", action="store_true",
                   help="maintainers: write cards/<model>.md, its metrics and plot, and the README table")
    s.add_argument("--memory-fit", action="store_true",
                   help="maintainers: recompute the per-board memory fit from the published artifacts first "
                        "(with --publish, also into zoo/artifacts/<model>/metrics.json)")


def run(args) -> None:
    """Write the card of the model named (only that one): a preview next to the metrics (or in --out); the
    published card, metrics, plot and README table only with --publish."""
    model = registry.get(args.model)
    metrics_path = args.metrics or model.metrics_path
    metrics = card.load_metrics(metrics_path)
    if metrics.get("model") != model.name:
        other = metrics.get("model")
        raise TinyzooError(f"{metrics_path} holds the metrics of {other or 'no named model'}, not {model.name}: "
                           f"pass {model.name}'s own metrics.json" + (f" (or run `tinyzoo card {other} --metrics "
                                                                       f"{metrics_path}`)" if other else ""))
    if args.memory_fit:   # recompute the derived memory-fit rows from the published artifacts
        from tinyzoo.common.pipeline import add_memory_fit
        add_memory_fit(metrics, model.artifacts_dir)
    card.check_renders(metrics, metrics_path)
    if not args.publish:
        out = args.out or (Path(args.metrics).parent / "card" if args.metrics else Path("build") / "card")
        print(f"card (preview): {card.write_card(metrics, out)}  (write the published card with --publish)")
        return
    if args.memory_fit:
        published = model.artifacts_dir / "metrics.json"
        tmp = published.with_name("metrics.json.tmp")
        tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True))
        tmp.replace(published)
    print(card.write_card(metrics, checkout("publishing a card") / "cards"))
    update_readme_table()


def update_readme_table() -> None:
    repo = checkout("the README's model table")
    card.refresh_readme_table(repo / "cards", repo / "README.md")
