"""`tinyzoo` — list, inspect, build, export and evaluate the zoo's models."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from tinyzoo import hub, preflight, registry, verify_artifacts
from tinyzoo.common import build_record, card, tasks
from tinyzoo.common.boards import (
    BOARDS,
    app_buffer_bytes,
    memory_fit,
    read_only_data_bytes,
)
from tinyzoo.common.config import load_config
from tinyzoo.common.data import tinystories
from tinyzoo.common.errors import TinyzooError
from tinyzoo.common.layout import checkout
from tinyzoo.common.report import parse_vela_summary


def _list(args) -> None:
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


def _info(args) -> None:
    model = registry.get(args.model)
    if args.json:
        print(json.dumps(model.metrics(), indent=2, sort_keys=True))
    elif model.card_path is not None and model.card_path.exists():
        print(model.card_path.read_text())
    elif model.published:   # an installed tinyzoo: the card from the metrics it ships
        print(card.render_card(model.metrics()))
    else:
        raise TinyzooError(f"{model.name} has no card yet; build it with `tinyzoo build {model.name}`")


def _build(args, rest: list[str]) -> int:
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


def _eval(args) -> None:
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


def _export(args) -> None:
    model = registry.get(args.model)
    preflight.check_targets(args.target)
    preflight.check_artifacts_dir(args.artifacts)
    artifacts = args.artifacts or model.artifacts_dir
    verify_artifacts.check(model, artifacts, verify_artifacts.export_files(artifacts),
                           published=args.artifacts is None, load=False)

    from tinyzoo.common.lower import lower_ethos_u
    from tinyzoo.common.quantize import io_quant_params

    cfg = load_config(artifacts / "config.resolved.yaml")
    from tinyzoo.common.chain import read_reference_inputs, write_target_reference
    metrics = json.loads((artifacts / "metrics.json").read_text()) if (artifacts / "metrics.json").is_file() else {}
    # every program the folder holds: the model's, and each further one in <artifacts>/<program>/ (a language
    # model's KV-cache decode step)
    folders = [artifacts] + sorted(p.parent for p in artifacts.glob("*/model_int8.pt2"))
    for folder in folders:
        name = None if folder == artifacts else folder.name
        program = verify_artifacts.load_program(model, folder)
        quantized = program.module()
        example = tuple(program.example_inputs[0]) if program.example_inputs else None
        # the model's reference input is recorded in its metrics, a further program's has its example's shapes
        recorded = metrics if name is None else {"reference": {"input_shapes": [list(x.shape) for x in example or ()]}}
        reference = read_reference_inputs(folder, recorded)
        io = io_quant_params(quantized) if name is None else None
        for target in args.target:
            out = (args.out or Path("build") / "export" / model.name) / target / (name or "")
            low = lower_ethos_u(quantized, example, target, out,
                                int8_io=cfg["export"].get("int8_io", True),
                                allow_cpu_fallback=args.allow_cpu_fallback,
                                input_layout=cfg["export"].get("input_layout", "NCHW"))
            print(f"{target}{' ' + name if name else ''}: {low.pte_path} ({low.pte_path.stat().st_size} B, "
                  f"{low.npu_ops} NPU ops, {low.cpu_ops} CPU ops"
                  + (f"; input int8 scale {io['input']['scale']:.6g} zero point {io['input']['zero_point']})"
                     if io else ")"))
            if reference is not None and low.whole:
                write_target_reference(low.pte_path, low.tosa_path, reference)
                print(f"  {low.pte_path.with_suffix('.bpte')}: BundleIO program with the reference input and the "
                      f"int8 output its TOSA graph computes (reference_output*.bin)")
            if name is None:   # the reference app runs the model's program
                for line in _memory_fit_lines(low, metrics):
                    print(line)


def _memory_fit_lines(low, metrics: dict) -> list[str]:
    """One line per board that carries the lowered target: "fits (...)" or "needs N KiB more ..."
    (common.boards.memory_fit on the new .pte; Vela's memory mode and SRAM from this lowering, the app's own
    buffers from the model's metrics ({} when the folder has none))."""
    vela = parse_vela_summary(low.vela_dir)
    report = {"target": low.target, "memory_mode": low.memory_mode or vela["memory_mode"],
              "sram_kib": vela.get("sram_kib")}
    app_bytes, data_bytes, note = 0, 0, " (app buffers not counted: no metrics.json)"
    if metrics:
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


def _publish(args) -> None:
    """`tinyzoo publish BUILD_DIR`: a finished build into zoo/artifacts/, cards/ and the README table."""
    from tinyzoo.common.pipeline import publish_build

    metrics = card.load_metrics(args.build / "metrics.json")
    model = registry.get(metrics.get("model") or "")
    publish_build(metrics, args.build)
    print(f"now `tinyzoo index` records {model.name}'s files in zoo/index.json")


def update_readme_table() -> None:
    repo = checkout("the README's model table")
    card.refresh_readme_table(repo / "cards", repo / "README.md")


def _deploy(args) -> None:
    """`tinyzoo deploy MODEL --input-shape … --target …`: a user's own model through the chain, no recipe."""
    import torch
    from tinyzoo.common import deploy
    from tinyzoo.common.lower import check_target

    shapes = [deploy.parse_shape(s) for s in args.input_shape]
    if args.samples < 1:
        raise TinyzooError(f"--samples {args.samples}: at least 1")
    targets = [check_target(t) for t in args.target]          # arguments first, before loading anything
    if args.out.exists() and not args.out.is_dir():
        raise TinyzooError(f"--out {args.out} is a file: give a folder (new or one to overwrite)")
    model, weights = deploy.load_model(args.model)
    calibration = [tuple(deploy.load_inputs(args.calibration, shapes))] if args.calibration else None
    eval_inputs = deploy.load_inputs(args.eval, shapes) if args.eval else None
    log = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if args.json else print
    shape_args = " ".join(f"--input-shape {','.join(map(str, s))}" for s in shapes)
    metrics = deploy.deploy_model(
        model, [torch.zeros(s) for s in shapes], targets=targets, out_dir=args.out, calibration=calibration,
        eval_inputs=eval_inputs, scheme=args.scheme, npu_only=args.npu_only, random_samples=args.samples,
        input_layout=args.input_layout,
        name=args.name or deploy.default_name(args.model), weights=weights, log=log,
        reproduce=(f"tinyzoo deploy {args.model} {shape_args} " + " ".join(f"--target {t}" for t in targets)
                   + (f" --calibration {args.calibration}" if args.calibration else "")
                   + (f" --eval {args.eval}" if args.eval else "") + f" --scheme {args.scheme}"
                   + (" --npu-only" if args.npu_only else "")
                   + (f" --input-layout {args.input_layout}" if args.input_layout != "NCHW" else "")
                   + f" --out {args.out}"))
    if args.json:
        print(json.dumps(metrics, indent=2, sort_keys=True, default=str))
        return
    for line in deploy.summary_lines(metrics):
        print(line)
    print(f"metrics: {args.out / 'metrics.json'}")


def _pull(args) -> None:
    path = hub.pull(args.model, args.target, source=args.source)
    print(path)


def _index(args) -> None:
    path = hub.write_index(hub.build_index())
    print(f"{path}: {len(hub.load_index(path)['models'])} model(s)")


def _data(args) -> None:
    root = preflight.given_data_root(args.data_root)[0] or Path.home() / ".cache" / "tinyzoo" / "data"
    if args.dataset == "speech_commands":
        from tinyzoo.common.data.speech_commands import (
            download_speech_commands,
            find_speech_commands,
        )

        if args.download:
            download_speech_commands(root, "speech_commands_v0.02")
        print(find_speech_commands(root))
    elif args.dataset == "cifar10":
        from tinyzoo.common.data.cifar10 import FOLDER, cifar10

        cifar10(root, train=False, download=args.download)
        print(root / FOLDER)
    elif args.dataset == "tinystories":
        if args.download:
            tinystories.download(root)
        print(tinystories.find_file(root, "validation").parent)
    else:
        raise TinyzooError(f"unknown dataset {args.dataset!r}; available: {', '.join(preflight.DOWNLOADABLE)}")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one TinyzooError line like every other user error (no usage dump)."""

    def error(self, message):
        models = f"; models: {', '.join(registry.list_models())}" if message.endswith("required: model") else ""
        raise TinyzooError(f"{message}{models} (see `{self.prog} --help`)")


def package_version() -> str:
    """The installed tinyzoo's version, else the one in this checkout's pyproject.toml."""
    import importlib.metadata

    try:
        return importlib.metadata.version("tinyzoo")
    except importlib.metadata.PackageNotFoundError:
        import tomllib
        return tomllib.loads((checkout("the version") / "pyproject.toml").read_text())["project"]["version"]


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="tinyzoo", description=__doc__,
                      epilog="--debug (anywhere) or TINYZOO_DEBUG=1: show Python tracebacks instead of one-line errors")
    p.add_argument("--version", action="version", version=f"tinyzoo {package_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("list", help="list the models")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("info", help="show a model's card (or its metrics with --json)")
    s.add_argument("model")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("build", help="train → quantize → lower → verify → card (options: tinyzoo build MODEL --help)",
                       add_help=False)
    s.add_argument("model", nargs="?")
    s = sub.add_parser("eval", help="evaluate the published model (float, int8 fake-quant, int8 TOSA reference)")
    s.add_argument("model")
    s.add_argument("--data-root", type=Path, help="a folder in the dataset's standard layout, all of it evaluated "
                                                  "(a language model: also the text file itself)")
    s.add_argument("--target", action="append", help="only these targets' TOSA graphs")
    s.add_argument("--artifacts", type=Path, help="a build folder instead of the published artifacts")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("export", help="lower the published int8 model for (other) Ethos-U targets (each "
                                      "program it has: a language model's decode step too)")
    s.add_argument("model")
    s.add_argument("--target", action="append", required=True)
    s.add_argument("--artifacts", type=Path, help="a build folder instead of the published artifacts")
    s.add_argument("--out", type=Path, help="output folder (default build/export/<model>)")
    s.add_argument("--allow-cpu-fallback", action="store_true")
    s = sub.add_parser("card", help="write a model's card from metrics.json (a preview; --publish: cards/ and "
                                    "the README table)")
    s.add_argument("model")
    s.add_argument("--metrics", type=Path, help="a build's metrics.json (default: the published card's)")
    s.add_argument("--out", type=Path, help="where the preview goes (default: next to --metrics, else build/card)")
    s.add_argument("--publish", action="store_true",
                   help="maintainers: write cards/<model>.md, its metrics and plot, and the README table")
    s.add_argument("--memory-fit", action="store_true",
                   help="maintainers: recompute the per-board memory fit from the published artifacts first "
                        "(with --publish, also into zoo/artifacts/<model>/metrics.json)")
    s = sub.add_parser("publish", help="maintainers: a finished build folder into zoo/artifacts/, cards/ and the "
                                       "README table (then `tinyzoo index`)")
    s.add_argument("build", type=Path, help="the build folder (build/<task>/<model>)")
    s = sub.add_parser("pull", help="download a published model's artifacts (SHA-256 checked); prints the .pte path")
    s.add_argument("model")
    s.add_argument("--target", help="also that target's .pte / TOSA graph / reference output")
    s.add_argument("--source", help="a mirror (a directory, file:// or http(s) URL) instead of the Hugging Face Hub "
                                    "(default: $TINYZOO_MIRROR)")
    s = sub.add_parser("deploy", help="your own PyTorch model → int8 → .pte per Ethos-U target, with NPU figures, "
                                      "int8 fidelity and the ops left on the CPU (no recipe, no training)")
    s.add_argument("model", help="path/to/file.py:factory (a function returning the nn.Module) or torchvision:<name>")
    s.add_argument("--input-shape", action="append", required=True, metavar="1,C,H,W",
                   help="the static input shape the MCU runs (repeat for each input)")
    s.add_argument("--target", action="append", required=True, help="Ethos-U target (repeatable)")
    s.add_argument("--out", type=Path, required=True, help="output folder: <target>/model.pte, metrics.json, card/")
    s.add_argument("--calibration", type=Path, help="a .npy/.pt file or a folder of them (default: seeded random "
                                                     "inputs: figures then describe the architecture, not accuracy)")
    s.add_argument("--eval", type=Path, help="inputs for the fidelity figures (default: the calibration inputs)")
    s.add_argument("--samples", type=int, default=16, help="how many seeded random inputs without --calibration "
                                                           "(default 16)")
    s.add_argument("--scheme", choices=["a8w8", "a16w8"], default="a8w8",
                   help="int8 activations and weights, or int16 activations with int8 weights")
    s.add_argument("--npu-only", action="store_true", help="an operator left on the CPU is an error")
    s.add_argument("--input-layout", choices=["NCHW", "NHWC"], default="NCHW",
                   help="the .pte's 4-D inputs: NCHW as PyTorch, or NHWC (HWC bytes as a camera and TFLite give "
                        "them; saves the NPU's input transposes)")
    s.add_argument("--name", help="the name in the card and metrics (default: from MODEL)")
    s.add_argument("--json", action="store_true", help="print metrics.json (progress goes to stderr)")
    sub.add_parser("index", help="maintainers: regenerate zoo/index.json from zoo/artifacts/ "
                                 "(scripts/publish_hub.py pins each model's Hub commit)")
    s = sub.add_parser("data", help="locate or download a dataset")
    s.add_argument("dataset", help=", ".join(preflight.DOWNLOADABLE))
    s.add_argument("--data-root", type=Path, help="default: $TINYZOO_DATA, else ~/.cache/tinyzoo/data")
    s.add_argument("--download", action="store_true")
    return p


COMMANDS = {"list": _list, "info": _info, "eval": _eval, "export": _export, "card": _card, "publish": _publish,
            "pull": _pull, "index": _index, "data": _data, "deploy": _deploy}


def _run(argv: list[str]) -> int:
    args, rest = parser().parse_known_args(argv)
    code = 0
    if args.command == "build":
        code = _build(args, rest)
    elif rest:
        raise TinyzooError(f"unrecognized arguments: {' '.join(rest)} (see `tinyzoo {args.command} --help`)")
    else:
        COMMANDS[args.command](args)
    sys.stdout.flush()    # a closed pipe shows here, inside the handlers below, not at interpreter exit
    return code


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 2 a user error (one line on stderr), 130 interrupted, 141 output pipe closed,
    1 an unexpected error (a bug: one line; --debug or TINYZOO_DEBUG=1 shows the traceback)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # torchao registers two Enums with torch's pytree at import and torch 2.14 warns about it on every run
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    debug = "--debug" in argv or os.environ.get("TINYZOO_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        code = _run(argv)
    except SystemExit as done:      # --help / --version
        return done.code if isinstance(done.code, int) else 0
    except TinyzooError as err:
        if debug:
            raise
        print(f"tinyzoo: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print("\ntinyzoo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _stdout_to_devnull()
        return 141
    except Exception as err:   # noqa: BLE001 — a bug: still one line unless debugging
        if debug:
            raise
        print(f"tinyzoo: error: unexpected {type(err).__name__}: {err} (a bug in tinyzoo: rerun with --debug "
              f"or TINYZOO_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return 1
    return code


def _stdout_to_devnull() -> None:
    """After the reader of our output went away: nothing more can be written, and Python must not complain
    when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # stdout is not a real file (e.g. captured in tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
