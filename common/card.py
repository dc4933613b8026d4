"""Model cards, generated from a build's metrics.json and nothing else, through huggingface_hub: the metadata as
`ModelCardData` with the measured figures as `EvalResult`s (the Hub's model-index), the human part from
card_template.md (`ModelCard.from_template`), a confusion-matrix plot, and the README's model table.

    write_card(metrics, "cards/")  →  cards/<stem>.md, cards/<stem>/metrics.json, cards/<stem>/confusion.png
"""
from __future__ import annotations

import json
from pathlib import Path

from tinyzoo.common import tasks
from tinyzoo.common.card_view import Quality, pct, table
from tinyzoo.common.errors import ArtifactError

TEMPLATE = Path(__file__).resolve().parent / "card_template.md"   # the human part (huggingface_hub Jinja template)
TABLE_START, TABLE_END = "<!-- model-table:start -->", "<!-- model-table:end -->"
PIPELINE_TAGS = {"keyword-spotting": "audio-classification", "image-classification": "image-classification",
                 "text-generation": "text-generation"}


def model_stem(name: str) -> str:
    return name.replace("/", "__")


def check_renders(metrics: dict, path: str | Path) -> None:
    """Render the card in memory, so metrics that do not make a whole card write nothing (no half-updated card
    folder or README table); one line naming the metrics file otherwise."""
    try:
        render_card(metrics)
    except (KeyError, TypeError, ValueError, IndexError, StopIteration) as err:
        raise ArtifactError(f"{path} is not a complete build's metrics ({type(err).__name__}: {err}); use the "
                            f"metrics.json a finished `tinyzoo build` wrote") from err


def load_metrics(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path} does not exist: build the model (`tinyzoo build <model>`) to create it")
    try:
        metrics = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path} is not valid JSON ({err}): use the metrics.json a finished build wrote, "
                            f"or rebuild") from None
    if not isinstance(metrics, dict):
        raise ArtifactError(f"{path} does not hold a metrics mapping: use the metrics.json a build wrote")
    return metrics

def _first(d: dict):
    return next(iter(d.values())) if d else None


def cpu_ops_section(m: dict) -> str:
    rows = [[t, op["op"], op["module"] or "–", f"`{op['source']}`" if op["source"] else "–", op["reason"]]
            for t, r in m["targets"].items() for op in r.get("cpu_op_details", [])]
    if not rows:
        return ""
    return "\n".join(["## Operators left on the CPU", "",
                      table(["target", "operator", "module", "source line", "why (Arm partitioner)"], rows), "",
                      "Change these layers for an NPU-only model (`--npu-only` makes any of them an error)."])


def quality_of(m: dict) -> Quality:
    """How the card shows the quality figures of these metrics: their task's view (`Task.card_view`; a user's
    deployed model: fidelity to float)."""
    task = tasks.of(m)
    if task.quality not in m:
        raise ValueError(f"{m.get('model', 'these metrics')} hold no {task.quality} figures (task {task.name})")
    return task.card_view()


def card_data(m: dict):
    """The card's metadata as huggingface_hub's `ModelCardData`, its measured figures as `EvalResult`s (the Hub's
    model-index): float, int8 fake-quant and per-target TOSA int8 accuracy, perplexity or SQNR."""
    from huggingface_hub import EvalResult, ModelCardData

    view = quality_of(m)
    kind, dataset, split, figures = view.hub_results(m)
    split = split or m.get("test_set_name", view.split)
    dataset = dataset or (m.get("datasets") or [{}])[0]
    task = m.get("task", "")
    pipeline_tag = PIPELINE_TAGS.get(task, task)
    results = [EvalResult(task_type=pipeline_tag, task_name=task, dataset_type=dataset.get("id", ""),
                          dataset_name=dataset.get("name", ""), dataset_split=split, metric_type=kind,
                          metric_value=value, metric_name=name)
               for value, name in figures if value is not None]   # e.g. no SQNR of a constant output
    return ModelCardData(
        license=m.get("license", "apache-2.0"), library_name="executorch", pipeline_tag=pipeline_tag,
        tags=["executorch", "ethos-u", "arm", "tinyml", "int8", "tinyzoo", task] + sorted(m.get("targets", {})),
        datasets=[d["id"] for d in m.get("datasets", []) if d.get("id")] or None, metrics=[kind],
        model_name=m["model"], eval_results=results or None)


def _counts(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items())


def _unit(d: dict) -> tuple[int, str]:
    return (d["clips"], "clips") if "clips" in d else (d["images"], "images")


def data_section(m: dict) -> str:
    d = m["data"]
    train, test = d.get("train") or {}, d["test"]
    out = ["## Data", ""]
    if train:
        n, unit = _unit(train)
        out.append(f"**Training: {n} {unit}** — by source: {_counts(train['per_source'])}; "
                   f"by class: {_counts(train['per_class'])}.")
    if d.get("validation"):
        out.append(f"Validation (monitoring only, real speakers): {d['validation']['clips']} clips, "
                   f"{_counts(d['validation']['per_source'])}.")
    syn = d.get("synthetic")
    if syn:
        voices = "; ".join(f"{e} ({len(v)}: {', '.join(v[:12])}{' …' if len(v) > 12 else ''})"
                           for e, v in syn["voices_per_engine"].items())
        out += ["", f"**Synthetic speech:** {syn['clips']} clips of {syn['words']} words from {syn['voices']} "
                f"text-to-speech voices — {voices}. Clips per engine: {_counts(syn['per_engine'])}. "
                f"Variation {syn['variation']}."]
    n, unit = _unit(test)
    out += ["", f"**Test: {n} {unit}** ({_counts(test['per_source'])}); by class: "
            f"{_counts(test['per_class'])}. No test {unit[:-1]} was used for training or calibration."]
    if m.get("data_note"):
        out += ["", m["data_note"]]
    return "\n".join(out)


def targets_section(m: dict) -> str:
    rows = []
    for t, r in m["targets"].items():
        other = r["off_chip_flash_kib"] or r["on_chip_flash_kib"] or r["dram_kib"]
        kind = "off-chip flash" if r["off_chip_flash_kib"] else "on-chip flash" if r["on_chip_flash_kib"] else "DRAM"
        rows.append([t, f"{r['system_config']} / {r['memory_mode']}", f"{r['core_clock_hz'] / 1e6:.0f} MHz",
                     f"{r['cycles']:,}", f"{r['inference_time_ms']:.3f}", f"{r['sram_kib']:.2f}",
                     f"{other:.2f} ({kind})", f"{r['macs']:,}", f"{100 * r['mac_utilisation']:.1f} %",
                     f"{r['npu_ops']} / {r['cpu_ops']}"
                     + (f" ({', '.join(r['cpu_op_names'])})" if r['cpu_ops'] else ""),
                     f"{r['pte_bytes'] / 1024:.1f}", f"{r['export_seconds']:.1f}"])
    return "\n".join([
        "## On the NPU (Vela 5.1 estimates, per target)", "",
        table(["target", "Vela system config / memory mode", "NPU clock", "cycles", "time (ms)", "SRAM (KiB)",
                "weights (KiB)", "MACs", "MAC utilisation", "ops NPU / CPU", ".pte (KiB)", "export (s)"], rows), "",
        *([quality_of(m).per_inference, ""] if quality_of(m).per_inference else []),
        "Cycles and time are Vela's performance estimates for the NPU at the system config's clock (not measured "
        "on silicon). MAC utilisation = MACs ÷ (cycles × MACs per cycle). Ops NPU / CPU counts the operators "
        "of the int8 graph delegated to the Ethos-U versus left to the Cortex-M.",
    ])


def side_by_side_section(m: dict) -> str:
    """The same network through another tool (config `reference`: e.g. MLPerf Tiny's int8 .tflite for TFLite Micro
    + Vela) beside this card's .pte: accuracy on the same test samples, and Vela's figures per target with the
    same system config and memory mode."""
    other = m.get("tflite")
    if not other:
        return ""
    samples, columns, rows, verdict = quality_of(m).side_by_side(m)
    targets = []
    for t, o in other["targets"].items():
        r = m["targets"][t]
        targets.append([t, f"{r['cycles']:,}", f"{o['cycles']:,}", f"**{o['cycle_ratio']:.3f}**",
                        f"{r['inference_time_ms']:.3f} / {o['inference_time_ms']:.3f}",
                        f"{r['sram_kib']:.1f} / {o['sram_kib']:.1f}",
                        f"{r['weights_bytes_encoded'] / 1024:.1f} / {o['weights_bytes_encoded'] / 1024:.1f}",
                        f"{r['pte_bytes'] / 1024:.1f} / {o['tflite_bytes'] / 1024:.1f}"])
    return "\n".join([
        f"## Side by side: ExecuTorch vs {other['name']}", "",
        f"The same network and weights through both paths, on the same {samples}; each path "
        f"quantized by its own tool from the same float model." + verdict, "",
        table(columns, rows), "",
        table(["target", ".pte cycles", ".tflite cycles", "ratio", "time ms (.pte / .tflite)",
               "SRAM KiB", "encoded weights KiB", "file KiB"], targets), "",
        "Both compiled by Vela 5.1 with the system config and memory mode of the table above (ExecuTorch's "
        "`EthosUCompileSpec` defaults); ratio = .pte cycles ÷ .tflite cycles (below 1: the ExecuTorch path is "
        "cheaper). The .tflite file is Vela's output (NPU command stream and weights) as TFLite Micro loads it."
        + (" The .tflite ends in a softmax on the NPU ("
           + ", ".join(f"{t}: {o['softmax_cycles']:,}" for t, o in other["targets"].items()) + " cycles of its total); "
           "the .pte returns the logits (same top-1), its softmax, if any, runs in the app."
           if any(o.get("softmax_cycles") for o in other["targets"].values()) else ""),
    ])


def memory_fit_section(m: dict) -> str:
    rows = [[r["target"] + (f" ({r['program']})" if r.get("program") else ""), r["board"], r["memory_mode"],
             "yes" if r["fits"] else "**no**", r["summary"]] for r in m.get("memory_fit", [])]
    if not rows:
        return ""
    return "\n".join([
        "## Memory fit per board (reference firmware)", "",
        table(["target", "board", "memory mode", "fits", "pools the app needs, per memory"], rows), "",
        "From the `.pte` (planned buffers, Ethos-U scratch) and the reference app's own buffers, against each "
        "board's memory map (common/boards.py; the app's code size is not included)"
        + ("; a row that names a program is the app built with that program instead of the model's first, its "
           "own buffers and tables included" if any(r.get("program") for r in m["memory_fit"]) else "")
        + ". Build the firmware with these pool sizes: common/firmware/README.md.",
    ])


def frontend_section(m: dict) -> str:
    f = m["frontend"]
    rows = [[k, v] for k, v in f.items()]
    title = quality_of(m).frontend_title
    return "\n".join([title, "", m.get("frontend_matches", ""), "", table(["parameter", "value"], rows),
                      "", f"Model input: {m['model_info']['input']['shape']} {m['model_info']['input']['dtype']}."])


def _parallel_training(t: dict) -> str:
    """What the training line adds for a run on several processes or in bf16 (nothing for one fp32 process, so
    cards of such runs read as before)."""
    out = ""
    if t.get("world_size", 1) > 1:
        w, b = t["world_size"], t["global_batch_size"]
        out += (f" (the global batch: {w} processes x {b // w}, PyTorch DDP on {t['devices']} averaging gradients; "
                f"batch norm: {t['batch_norm']}; {t['process_seeds']})")
    if t.get("precision", "fp32") != "fp32":
        out += f", {t['precision']}"
    return out


def training_machine(m: dict) -> str:
    """Where the epochs ran: recorded with them in the checkpoint; a build that started from trained weights
    (`--weights`) without that record does not know it, and says so rather than name its own machine."""
    t = m["training"]
    if t.get("hardware"):
        return t["hardware"]
    if "hardware" in t or "--weights" in m.get("reproduce", ""):
        return "a machine its checkpoint does not record (this build started from the trained weights)"
    return m.get("hardware", "the build machine")


def weights_section(m: dict) -> str:
    """Weights not trained by the chain (train.epochs 0): where they came from and how the port was checked."""
    s = m["weights_source"]
    parity = s.get("parity") or {}
    if "max_abs_logit_diff" in parity:   # a classifier
        check = (f"; the PyTorch float model equals {parity['against']} (`{s['float_tflite']}`) to a max absolute "
                 f"logit difference of {parity['max_abs_logit_diff']:.1e} on {parity['inputs']} (top-1 agreement "
                 f"{pct(parity['top1_agreement'])})")
    elif parity:                         # another output (e.g. an autoencoder's reconstruction)
        check = (f"; the PyTorch float model equals {parity['against']} (`{s['float_tflite']}`) to a max absolute "
                 f"output difference of {parity['max_abs_output_diff']:.1e} on {parity['inputs']}"
                 + (f" (anomaly scores: {parity['max_abs_score_diff']:.1e})" if "max_abs_score_diff" in parity else "")
                 + (f". Note: {parity['note']}" if parity.get("note") else ""))
    else:
        check = ""
    return "\n".join([
        "## Weights", "",
        f"Not trained here: {s['origin']}. Converted from `{s['keras']}` (sha256 `{s['keras_sha256'][:16]}…`) by "
        f"scripts/convert_mlperf.py" + check + ".",
    ])


def training_section(m: dict) -> str:
    if m.get("weights_source"):
        return weights_section(m)
    t, cfg = m["training"], m["config"]["train"]
    final = t.get("final") or {}
    aug = cfg.get("augment", {})
    return "\n".join([
        "## Training", "",
        f"{t['epochs']} epochs, batch {cfg['batch_size']}{_parallel_training(t)}, {cfg['optimizer']} lr {cfg['lr']} "
        f"({cfg.get('lr_schedule')}), "
        f"weight decay {cfg.get('weight_decay', 0)}, label smoothing {cfg.get('label_smoothing', 0)}, "
        f"seed {cfg['seed']}. "
        + (f"Augmentation: {', '.join(f'{k} {v}' for k, v in aug.items())}. " if aug else "")
        + (_initialised(t["init"]) if t.get("init") else "")
        + (f"Distilled from `{cfg['distill']['teacher']}` (its logits on the same augmented inputs, temperature "
           f"{cfg['distill']['temperature']:g}, weight {cfg['distill']['weight']:g} of the loss)"
           + (_student_alone(m) if cfg["distill"].get("compare") else "") + ". "
           if cfg.get("distill") else "")
        +
        f"Training took {t['seconds'] / 60:.1f} min ({t['seconds_per_epoch']:.1f} s per epoch) on "
        f"{training_machine(m)}"
        + (f"; last epoch: loss {final.get('loss')}, train accuracy {pct(final.get('train_accuracy'))}"
           + (f", validation accuracy {pct(final['val_accuracy'])}" if 'val_accuracy' in final else "")
           if final else "")
        + ".",
    ])


def _initialised(init: dict) -> str:
    carried, new = init["labels_carried_over"], init["labels_new"]
    return (f"Fine-tuned from `{init['from']}` (`--init`: its float weights and front end; {init['tensors_taken']} of "
            f"{init['tensors']} tensors taken as they are"
            + (f", the classifier's rows of {', '.join(carried)} carried over and those of {', '.join(new)} drawn "
               f"afresh" if new else "") + "). ")


def _student_alone(m: dict) -> str:
    acc = m.get("accuracy", {})
    if acc.get("student_alone_float") is None:
        return ""
    gain = 100 * (acc["float"] - acc["student_alone_float"])
    return (f"; the same student trained without its teacher (same data, {m['training']['epochs']} epochs, schedule "
            f"and seed) reaches {pct(acc['student_alone_float'])} in float against {pct(acc['float'])} distilled "
            f"({gain:+.1f} pp)")


def render_card(m: dict, confusion_png: str | None = None) -> str:
    first = _first(m["targets"]) or {}
    info = m["model_info"]
    view = quality_of(m)
    quality = view.name
    columns, float_q, int8_q = view.glance(m)
    glance = table(["parameters", "MACs", "input", *columns, "NPU ops"], [[
        f"{info['params']:,}", f"{info['macs']:,}" if info.get("macs") else "–",
        f"{info['input']['shape']} {info['input']['dtype']}", float_q, int8_q,
        f"{100 * first.get('npu_op_fraction', 0):.0f} % on every target" if all(
            r["cpu_ops"] == 0 for r in m["targets"].values()) else "see table"]])
    sections = [
        *(["> **Warning — the NPU does not compute the int8 model that was validated** (the integer graph Vela "
           "compiles diverges from the int8 fake-quant model): "
           + "; ".join(f"{t}: {why}" for t, why in m["divergence"].items())
           + ". Trust the TOSA-reference figures below, not the fake-quant ones.", ""] if m.get("divergence") else []),
        *(["> **Lowering failed inside a dependency for " + ", ".join(m["failed_targets"]) + "** (the other targets "
           "below are complete): " + "; ".join(m["failed_targets"].values()), ""] if m.get("failed_targets") else []),
        *([f"> **Read the {quality} with this in mind:** {m['data_note']}", ""] if m.get("data_note") else []),
        *(["## Intended use", "", m["intended_use"], ""] if m.get("intended_use") else []),
        *([(view.data_section or data_section)(m), ""] if m.get("data") else []),
        *([frontend_section(m), ""] if m.get("frontend") else []),
        *([training_section(m), ""] if m.get("training") else []),
        view.section(m), "",
        targets_section(m), "",
        *([side_by_side_section(m), ""] if m.get("tflite") else []),
        *([cpu_ops_section(m), ""] if any(r.get("cpu_op_details") for r in m["targets"].values()) else []),
        *([memory_fit_section(m), ""] if m.get("memory_fit") else []),
        *(part for section in view.extra_sections if (text := section(m)) for part in (text, "")),
    ]
    if confusion_png:
        sections += ["## Confusion matrix", "", f"{m['confusion']['source']}, on the test samples above.", "",
                     f"![confusion matrix]({confusion_png})", ""]
    limitations = [*m.get("limitations", []),
                   "Cycle and time figures are Vela estimates; Cortex-M work outside the NPU (front end, pre/post "
                   "processing) is not included."]
    licences = "; ".join(f"{d['name']}: {d['license']} — {d.get('citation', '')}" for d in m.get("datasets", []))
    stem = model_stem(m["model"])
    provenance = (f"`{m['model']}` · " + (f"profile `{m['config']['profile']}` · " if "profile" in m.get("config", {})
                                          else "")
                  + f"built {m['created']} · generated from [`{stem}/metrics.json`]({stem}/metrics.json) — every "
                    f"figure below comes from that run.")
    from huggingface_hub import ModelCard

    card = ModelCard.from_template(
        card_data(m), template_str=TEMPLATE.read_text(), title=m["title"], summary=m.get("summary", ""),
        provenance=provenance, glance=glance, sections="\n".join(sections), limitations=limitations,
        licence=f"Model and code: {m.get('license', 'apache-2.0')}. Data: {licences}" if m.get("datasets") else "",
        reproduce=m["reproduce"], tools=", ".join(f"{k} {v}" for k, v in sorted(m.get("tools", {}).items())))
    return str(card).rstrip("\n") + "\n"


def plot_confusion(confusion: dict, path: Path, title: str = "") -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    matrix = np.asarray(confusion["matrix"])
    labels = confusion["labels"]
    rows = matrix.sum(1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    size = max(4.0, 0.5 * len(labels) + 1.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), dpi=110)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or confusion.get("source", ""), fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path


def write_card(metrics: dict, directory: str | Path) -> Path:
    """<directory>/<stem>.md with its metrics.json and confusion.png in <directory>/<stem>/."""
    directory = Path(directory)
    metrics = json.loads(json.dumps(metrics, sort_keys=True))   # render exactly what metrics.json will hold
    stem = model_stem(metrics["model"])
    assets = directory / stem
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "metrics.json.tmp").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    (assets / "metrics.json.tmp").replace(assets / "metrics.json")
    png = None
    if metrics.get("confusion"):
        plot_confusion(metrics["confusion"], assets / "confusion.png",
                       f"{metrics['model']}: {metrics['confusion']['source']}")
        png = f"{stem}/confusion.png"
    card = directory / f"{stem}.md"
    (directory / f"{stem}.md.tmp").write_text(render_card(metrics, png))
    (directory / f"{stem}.md.tmp").replace(card)
    return card


def render_model_table(all_metrics: list[dict]) -> str:
    """The README's table: one row per published model, its accuracy ladder and per-target NPU figures."""
    targets = sorted({t for m in all_metrics for t in m["targets"]})
    header = (["model", "task", "params", "MACs", "test samples", "float", "int8 (TOSA ref.)", "MLPerf Tiny target"]
              + [f"{t}: ms / SRAM KiB" for t in targets] + ["card"])
    rows = []
    for m in sorted(all_metrics, key=lambda m: m["model"]):
        cells = [f"`{m['model']}`", m.get("task", ""), f"{m['model_info']['params']:,}",
                 f"{m['model_info']['macs'] / 1e6:.2f} M" if m["model_info"].get("macs") else "–",
                 *quality_of(m).readme_cells(m),
                 quality_target_cell(m)]
        for t in targets:
            r = m["targets"].get(t)
            cells.append(f"{r['inference_time_ms']:.3f} / {r['sram_kib']:.1f}" if r else "–")
        cells.append(f"[card](cards/{model_stem(m['model'])}.md)")
        rows.append(cells)
    note = ("Generated by `tinyzoo card <model>` from each card's metrics.json: accuracy on the card's test set "
            "(int8 = the lowest over targets; for a language model perplexity, int8 = the highest), time = Vela's NPU "
            "estimate at the system config's clock. The "
            "recipes' own weights were trained on the data at hand here (synthetic speech and a few real clips for "
            "KWS, nearly all of CIFAR-10's training images, a few hundred VWW images, a 2 MB TinyStories subset): "
            "each card says what its model saw. `vision/mobilenet_vww`'s own weights are withdrawn (their card "
            "prints them beside the reference weights on the same images): the recipe's name loads MLPerf's "
            "reference weights, as `tinyzoo list` shows. "
            "`<model>.mlperf` rows carry MLPerf Tiny's reference weights through the same chain, side by side "
            "with MLPerf's own int8 .tflite in each card and in [docs/mlperf.md](docs/mlperf.md).")
    return table(header, rows) + "\n\n" + note


def quality_target_cell(m: dict) -> str:
    """Whether the int8 model as the NPU computes it (the lowest over targets) meets the accuracy its config's
    reference expects (MLPerf Tiny's closed-division target), "–" without one."""
    target = (m.get("tflite") or {}).get("quality_target")
    tosa = (m.get("accuracy") or {}).get("tosa_int8") or {}
    if target is None or not tosa:
        return "–"
    worst = min(tosa.values())
    return f"{'yes' if worst >= target else '**no**'} ({pct(target)})"


def update_readme_table(readme: str | Path, table: str) -> Path:
    readme = Path(readme)
    text = readme.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise ValueError(f"{readme} has no {TABLE_START} … {TABLE_END} markers")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    readme.write_text(f"{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}")
    return readme


def refresh_readme_table(cards_dir: str | Path, readme: str | Path) -> Path:
    """Regenerate the README's model table from every published card's metrics.json."""
    metrics = [load_metrics(p) for p in sorted(Path(cards_dir).glob("*/metrics.json"))]
    return update_readme_table(readme, render_model_table(metrics))
