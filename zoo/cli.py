"""`tinyzoo` — list, inspect, build, export and evaluate the zoo's models."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.errors import TinyzooError
from zoo import registry


def _list(args) -> None:
    rows = []
    for name in registry.list_models():
        model = registry.get(name)
        metrics = model.metrics() if model.published else {}
        row = {"model": name, "task": model.config.get("card", {}).get("task", ""), "published": model.published,
               "targets": sorted(metrics.get("targets", {}))}
        if "perplexity" in metrics:
            row["float_perplexity"] = metrics["perplexity"]["float"]["perplexity"]
            row["tosa_int8_perplexity"] = {t: v["perplexity"] for t, v in metrics["perplexity"]["tosa_int8"].items()}
        else:
            row["float"] = metrics.get("accuracy", {}).get("float")
            row["tosa_int8"] = metrics.get("accuracy", {}).get("tosa_int8")
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        if not row["published"]:
            status = "not published yet"
        elif "float_perplexity" in row:
            status = (f"perplexity float {row['float_perplexity']:.2f}, int8 (TOSA) "
                      + ", ".join(f"{t} {p:.2f}" for t, p in row["tosa_int8_perplexity"].items()))
        else:
            status = (f"float {row['float']:.2%}, int8 (TOSA) "
                      + ", ".join(f"{t} {a:.2%}" for t, a in (row["tosa_int8"] or {}).items()))
        print(f"{row['model']:<24} {row['task']:<20} {status}")


def _info(args) -> None:
    model = registry.get(args.model)
    if args.json:
        print(json.dumps(model.metrics(), indent=2, sort_keys=True))
    elif model.card_path.exists():
        print(model.card_path.read_text())
    else:
        raise TinyzooError(f"{model.name} has no card yet; build it with `tinyzoo build {model.name}`")


def _build(args, rest: list[str]) -> int:
    from common.recipe import nproc_launch

    model = registry.get(args.model)
    launched = nproc_launch(model.name, rest)   # --nproc N: the same build under torchrun
    if launched is not None:
        return launched
    model.train_module().main(rest)
    return 0


def _eval(args) -> None:
    from common.config import import_object, load_config
    from common.pipeline import evaluate_artifacts

    model = registry.get(args.model)
    artifacts = args.artifacts or model.artifacts_dir
    cfg_path = artifacts / "config.resolved.yaml"
    cfg = load_config(cfg_path) if cfg_path.exists() else model.config
    if cfg["card"]["task"] == "text-generation":
        return _eval_language_model(model, artifacts, cfg, args)
    if args.data_root is None:
        default = model.config["data"].get("default_root")
        if not default:
            from common.errors import DatasetNotFoundError
            raise DatasetNotFoundError(f"{model.name} has no bundled data: pass --data-root DIR")
        args.data_root = import_object(default)()[0]
    features, labels, _ = import_object(cfg["data"]["eval"])(cfg, args.data_root)
    result = evaluate_artifacts(artifacts, cfg, features, labels, args.target)
    result["model"], result["data_root"], result["artifacts"] = model.name, str(args.data_root), str(artifacts)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    print(f"{model.name} on {result['samples']} test samples from {args.data_root}")
    print(f"  float            {result['float']:.2%}")
    print(f"  int8 fake-quant  {result['fake_quant_int8']:.2%}")
    for target, acc in result["tosa_int8"].items():
        print(f"  int8 TOSA {target:<15} {acc:.2%}  (agrees with float on "
              f"{result['agreement_int8_float'][target]:.2%})")


def _eval_language_model(model, artifacts: Path, cfg: dict, args) -> None:
    from common.text import evaluate_artifacts

    result = evaluate_artifacts(artifacts, cfg, args.data_root, args.target)
    result["model"], result["data_root"], result["artifacts"] = model.name, str(args.data_root), str(artifacts)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    print(f"{model.name}: perplexity on {result['tokens']} validation tokens ({result['windows']} windows)")
    print(f"  float            {result['float']['perplexity']:.3f}")
    print(f"  int8 fake-quant  {result['fake_quant_int8']['perplexity']:.3f}")
    for target, e in result["tosa_int8"].items():
        print(f"  int8 TOSA {target:<15} {e['perplexity']:.3f}  (greedy token agrees with float on "
              f"{result['agreement_int8_float'][target]:.2%})")


def _export(args) -> None:
    from common.config import load_config
    from common.lower import lower_ethos_u
    from common.quantize import io_quant_params, load_quantized_program

    model = registry.get(args.model)
    artifacts = args.artifacts or model.artifacts_dir
    program_path = artifacts / "model_int8.pt2"
    if not program_path.exists():
        raise TinyzooError(f"{program_path} is missing: build the model first (`tinyzoo build {model.name}`)")
    cfg = load_config(artifacts / "config.resolved.yaml")
    program = load_quantized_program(program_path)
    quantized = program.module()
    example = tuple(program.example_inputs[0]) if program.example_inputs else None
    for target in args.target:
        out = (args.out or Path("build") / "export" / model.name) / target
        low = lower_ethos_u(quantized, example, target, out,
                            int8_io=cfg["export"].get("int8_io", True),
                            allow_cpu_fallback=args.allow_cpu_fallback)
        io = io_quant_params(quantized)
        print(f"{target}: {low.pte_path} ({low.pte_path.stat().st_size} B, {low.npu_ops} NPU ops, "
              f"{low.cpu_ops} CPU ops; input int8 scale {io['input']['scale']:.6g} zero point "
              f"{io['input']['zero_point']})")
        for line in _memory_fit_lines(low, artifacts / "metrics.json"):
            print(line)


def _memory_fit_lines(low, metrics_path: Path) -> list[str]:
    """One line per board that carries the lowered target: "fits (...)" or "needs N KiB more ..."
    (common.boards.memory_fit on the new .pte; Vela's memory mode and SRAM from this lowering, the app's own
    buffers from the model's metrics.json)."""
    from common.boards import BOARDS, app_buffer_bytes, memory_fit, read_only_data_bytes
    from common.report import parse_vela_summary

    vela = parse_vela_summary(low.vela_dir)
    report = {"target": low.target, "memory_mode": low.memory_mode or vela["memory_mode"],
              "sram_kib": vela.get("sram_kib")}
    app_bytes, data_bytes, note = 0, 0, " (app buffers not counted: no metrics.json)"
    if metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())
        app_bytes, data_bytes, note = app_buffer_bytes(metrics), read_only_data_bytes(metrics), ""
    boards = [name for name, board in BOARDS.items() if low.target in board.npus]
    if not boards:
        return [f"  memory fit: no supported board carries {low.target} (boards: {', '.join(BOARDS)})"]
    lines = []
    for name in boards:
        fit = memory_fit(low.pte_path, report, name, app_bytes=app_bytes, model_data_bytes=data_bytes)
        lines.append(f"  memory fit on {name}: {fit['summary']}{note}")
    return lines


def _card(args) -> None:
    from common import card

    from common.pipeline import add_memory_fit

    model = registry.get(args.model)
    metrics = card.load_metrics(args.metrics or model.metrics_path)
    if args.memory_fit:   # recompute the derived memory-fit rows from the published artifacts
        add_memory_fit(metrics, model.artifacts_dir)
        published = model.artifacts_dir / "metrics.json"
        tmp = published.with_name("metrics.json.tmp")
        tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True))
        tmp.replace(published)
    print(card.write_card(metrics, registry.CARDS))
    update_readme_table()


def update_readme_table() -> None:
    from common import card

    card.refresh_readme_table(registry.CARDS, registry.REPO / "README.md")


def _pull(args) -> None:
    from zoo import hub

    path = hub.pull(args.model, args.target, source=args.source)
    print(path)


def _index(args) -> None:
    from zoo import hub

    path = hub.write_index(hub.build_index())
    print(f"{path}: {len(hub.load_index(path)['models'])} model(s)")


def _data(args) -> None:
    root = args.data_root or Path.home() / ".cache" / "tinyzoo" / "data"
    if args.dataset == "speech_commands":
        from common.data.speech_commands import download_speech_commands, find_speech_commands

        if args.download:
            download_speech_commands(root, "speech_commands_v0.02")
        print(find_speech_commands(root))
    elif args.dataset == "cifar10":
        from common.data.cifar10 import FOLDER, cifar10

        cifar10(root, train=False, download=args.download)
        print(root / FOLDER)
    elif args.dataset == "tinystories":
        from common.data import tinystories

        if args.download:
            tinystories.download(root)
        print(tinystories.find_file(root, "validation").parent)
    else:
        raise TinyzooError(f"unknown dataset {args.dataset!r}; available: speech_commands, cifar10, tinystories")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyzoo", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("list", help="list the models")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("info", help="show a model's card (or its metrics with --json)")
    s.add_argument("model")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("build", help="train → quantize → lower → verify → card (options: tinyzoo build MODEL --help)",
                       add_help=False)
    s.add_argument("model")
    s = sub.add_parser("eval", help="evaluate the published model (float, int8 fake-quant, int8 TOSA reference)")
    s.add_argument("model")
    s.add_argument("--data-root", type=Path, help="a folder in the dataset's standard layout")
    s.add_argument("--target", action="append", help="only these targets' TOSA graphs")
    s.add_argument("--artifacts", type=Path, help="a build folder instead of the published artifacts")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("export", help="lower the published int8 model for (other) Ethos-U targets")
    s.add_argument("model")
    s.add_argument("--target", action="append", required=True)
    s.add_argument("--artifacts", type=Path, help="a build folder instead of the published artifacts")
    s.add_argument("--out", type=Path, help="output folder (default build/export/<model>)")
    s.add_argument("--allow-cpu-fallback", action="store_true")
    s = sub.add_parser("card", help="regenerate a card (and the README table) from metrics.json")
    s.add_argument("model")
    s.add_argument("--metrics", type=Path)
    s.add_argument("--memory-fit", action="store_true",
                   help="maintainers: recompute the per-board memory fit from the published artifacts first")
    s = sub.add_parser("pull", help="download a published model's artifacts (SHA-256 checked); prints the .pte path")
    s.add_argument("model")
    s.add_argument("--target", help="also that target's .pte / TOSA graph / reference output")
    s.add_argument("--source", help="a mirror directory or http(s) URL instead of the Hugging Face Hub "
                                    "(default: $TINYZOO_MIRROR)")
    sub.add_parser("index", help="maintainers: regenerate zoo/index.json from zoo/artifacts/ "
                                 "(scripts/publish_hub.py pins each model's Hub commit)")
    s = sub.add_parser("data", help="locate or download a dataset")
    s.add_argument("dataset")
    s.add_argument("--data-root", type=Path)
    s.add_argument("--download", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = parser().parse_known_args(argv)
    try:
        if args.command == "build":
            return _build(args, rest)
        else:
            if rest:
                parser().error(f"unrecognized arguments: {' '.join(rest)}")
            {"list": _list, "info": _info, "eval": _eval, "export": _export, "card": _card,
             "pull": _pull, "index": _index, "data": _data}[args.command](args)
    except TinyzooError as err:
        print(f"tinyzoo: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
