"""How a card shows a task's quality figures: `Quality` (one task's view: its at-a-glance cells, the Hub's
model-index entries, its float → int8 → TOSA section, its README cells) with the views of classification
(`ACCURACY`) and of a user's model (`FIDELITY`), and the small formatting helpers every card section uses. A task
names its view (`Task.card_view`); common/card.py renders the card around it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.2f} %"


def confidence_pp(p: float, n: int) -> float:
    return 196 * (p * (1 - p) / max(1, n)) ** 0.5


def fidelity_section(m: dict) -> str:
    fid, q = m["fidelity"], m["quantization"]

    def row(name, e, lsb="–"):
        sqnr = e["sqnr_db"]
        return [name, "–" if sqnr is None else "∞" if sqnr == float("inf") else f"{sqnr:.1f}",
                f"{e['max_abs_error']:.4g}",
                pct(e.get("top1_agreement_float")) if fid["outputs_are_logits"] else "–", lsb]

    rows = [row("int8 fake-quant (PyTorch)", fid["fake_quant_int8"])]
    rows += [row(f"int8 TOSA reference, {t}", e, f"{fid['max_lsb_diff_tosa_fake_quant'][t]} LSB")
             for t, e in fid["tosa_int8"].items()]
    skipped = [t for t, r in m["targets"].items() if t not in fid["tosa_int8"]]
    cal = m["calibration"]
    return "\n".join([
        "## Fidelity: int8 against float on the same inputs", "",
        *(["**Not meaningful here:** the float model's output barely changes from one of these inputs to the next "
           "(untrained or random weights?), so the SQNR and error figures below say nothing about quantization. "
           "Deploy the trained model with real inputs (`--calibration`, `--eval`).", ""]
          if fid.get("float_output_constant") else []),
        f"On {fid['samples']} inputs ({m['fidelity_inputs']['source']}); no labels, so no accuracy: SQNR (signal to "
        f"quantization noise, dB) and the largest absolute error of each int8 model's outputs against the float "
        f"model's, the largest difference in output LSBs between the integer TOSA graph Vela compiles and the "
        f"fake-quant model" + (", and how often int8's top-1 class equals float's." if fid["outputs_are_logits"]
                              else "."), "",
        table(["int8 model", "SQNR vs float (dB)", "max abs error", "top-1 = float", "max diff vs fake-quant"], rows),
        *(["", f"Not run on the TOSA reference: {', '.join(skipped)} (with operators on the CPU no single integer "
           f"graph computes the model's output)."] if skipped else []), "",
        f"Quantization: {q['scheme']} PTQ (ExecuTorch `EthosUQuantizer`, per-channel weights) calibrated on "
        f"{cal['samples']} {cal['source']}, at the static input shape {m['model_info']['input']['shape']}. "
        + rewrites_sentence(q) + f"Weights: {m['weights']}.",
    ])


def rewrites_sentence(quantization: dict) -> str:
    """What the NPU-ready rewrites changed before quantization (common/rewrites.py), as a sentence ("" if none)."""
    done = quantization.get("rewrites") or {}
    return ("Rewritten for the NPU before quantization (exact in float; common/rewrites.py): "
            + ", ".join(f"{name} ×{n}" for name, n in done.items()) + ". ") if done else ""


def _accuracy_glance(m: dict) -> tuple[list[str], str, str]:
    acc = m["accuracy"]
    return (["float accuracy", "int8 accuracy (TOSA reference)"], pct(acc["float"]),
            ", ".join(f"{pct(v)} ({t})" for t, v in acc["tosa_int8"].items()))


def _accuracy_hub(m: dict) -> tuple:
    acc = m["accuracy"]
    figures = [(round(acc["float"], 4), "float accuracy"),
               (round(acc["fake_quant_int8"], 4), "int8 fake-quant accuracy")]
    figures += [(round(v, 4), f"int8 accuracy, TOSA reference ({t})") for t, v in acc["tosa_int8"].items()]
    return "accuracy", None, None, figures


def _accuracy_cells(m: dict) -> list[str]:
    """Test-set size, float and int8 accuracy (int8 = the lowest over targets)."""
    tosa = m["accuracy"]["tosa_int8"]
    return [f"{m['accuracy']['samples']:,}", pct(m["accuracy"]["float"]), pct(min(tosa.values())) if tosa else "–"]


def _fidelity_glance(m: dict) -> tuple[list[str], str, str]:
    db = lambda v: "–" if v is None else f"{v:.1f}"   # noqa: E731
    if m["fidelity"].get("float_output_constant"):
        return (["int8 fake-quant SQNR vs float (dB)", "int8 SQNR vs float (dB, TOSA reference)"],
                "not meaningful (constant float output)", "not meaningful")
    return (["int8 fake-quant SQNR vs float (dB)", "int8 SQNR vs float (dB, TOSA reference)"],
            db(m["fidelity"]["fake_quant_int8"]["sqnr_db"]),
            ", ".join(f"{db(v['sqnr_db'])} ({t})" for t, v in m["fidelity"]["tosa_int8"].items()) or "–")


def _fidelity_hub(m: dict) -> tuple:
    fid = m["fidelity"]
    figures = [(fid["fake_quant_int8"]["sqnr_db"], "int8 fake-quant SQNR vs float (dB)")]
    figures += [(v["sqnr_db"], f"int8 TOSA reference SQNR vs float, {t} (dB)") for t, v in fid["tosa_int8"].items()]
    return "sqnr", {"name": m["fidelity_inputs"]["source"], "id": "custom"}, "fidelity inputs", figures


@dataclass(frozen=True)
class Quality:
    """How a card shows one kind of measured quality, named by the metrics' key for it (what the chain's task
    stores, `Task.quality`): everything a card does differently per kind is in one of these."""
    key: str                                     # the metrics' key: accuracy / perplexity / fidelity
    name: str                                    # as the card says it
    split: str                                   # the Hub's dataset split when the metrics name none
    glance: Callable[[dict], tuple]              # (columns, float cell, int8 cell) of the at-a-glance table
    hub_results: Callable[[dict], tuple]         # (metric type, dataset or None, split or None, [(value, name)])
    section: Callable[[dict], str]               # the float → int8 → TOSA section
    readme_cells: Callable[[dict], list[str]]    # samples, float, int8 of the README table
    data_section: Callable[[dict], str] | None = None   # in place of the dataset section
    frontend_title: str = "## Front end"
    per_inference: str = ""                      # under the NPU table: what one inference is
    extra_sections: tuple = ()                   # after the memory fit ("" from one: not shown)
    # beside another tool's model of the same network (config `reference`): (what the samples were, the quality
    # table's columns and rows, the verdict on the quality target) — card.side_by_side_section
    side_by_side: Callable[[dict], tuple[str, list[str], list[list], str]] | None = None


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def accuracy_section(m: dict) -> str:
    acc, q = m["accuracy"], m["quantization"]
    rows = [["float (PyTorch)", pct(acc["float"]), "–", "–", "–"],
            [f"int8 fake-quant ({q['deployed'].upper()})", pct(acc["fake_quant_int8"]), "–", "–", "–"]]
    if acc.get("ptq_fake_quant_int8") is not None:
        rows.insert(1, ["int8 fake-quant (PTQ)", pct(acc["ptq_fake_quant_int8"]), "–", "–", "–"])
    if acc.get("student_alone_float") is not None:
        rows.insert(1, ["float, the same student trained without its teacher", pct(acc["student_alone_float"]),
                        "–", "–", "–"])
    for t, a in acc["tosa_int8"].items():
        rows.append([f"int8 TOSA reference, {t}", pct(a), pct(acc["agreement_int8_float"][t]),
                     pct(acc["agreement_tosa_fake_quant"][t]) if "agreement_tosa_fake_quant" in acc else "–",
                     f"{acc['max_lsb_diff_tosa_fake_quant'][t]} LSB"])
    io = q["io"]
    return "\n".join([
        "## Accuracy: float → int8 → int8 as the NPU computes it", "",
        f"On the same {acc['samples']} test samples. The TOSA reference model runs the exact integer graph Vela "
        f"compiles for each target, on int8 inputs quantized with the model's input scale.", "",
        table(["model", "top-1 accuracy", "top-1 agreement with float", "top-1 agreement with fake-quant",
                "max output diff vs fake-quant"], rows), "",
        "Agreement with fake-quant isolates what lowering changed (the integer graph vs the PyTorch int8 "
        "model); agreement with float also includes quantization"
        + (" and the QAT fine-tuning, which moves the weights." if q.get("qat") else "."),
        f"With {acc['samples']} test samples, the 95 % confidence half-width of an accuracy near "
        f"{pct(acc['float'])} is ±{confidence_pp(acc['float'], acc['samples']):.1f} pp (normal approximation); "
        f"the float-vs-int8 differences above are paired on the same samples, so the agreement column is the "
        f"sharper measure of what quantization and lowering changed.", "",
        f"Quantization: {q['scheme']} (ExecuTorch `EthosUQuantizer`, symmetric int8, per-channel weights), "
        f"PTQ calibrated on {q['ptq']['calibration_samples']} committed training samples (`calibration.txt`"
        + (", activation ranges by their min/max" if q["ptq"].get("observer") == "minmax" else "") + ")"
        + (f"; QAT {q['qat']['epochs']} epochs at lr {q['qat']['lr']}" if q.get("qat") else "")
        + (f" on {q['qat']['world_size']} processes (DDP, the last partial batch dropped)"
           if (q.get("qat") or {}).get("world_size", 1) > 1 else "")
        + f"; deployed: {q['deployed'].upper()}. Input int8 scale {io['input']['scale']:.6g}, zero point "
        f"{io['input']['zero_point']}" + (", channels-last (NHWC: the .pte takes HWC bytes)"
                                          if io["input"].get("layout") == "NHWC" else "")
        + f"; output scale {io['output']['scale']:.6g}, zero point "
        f"{io['output']['zero_point']}." + (" " + rewrites_sentence(q).strip() if q.get("rewrites") else ""),
        *(["", compared_sentence(m["compared_with"], acc["samples"])] if m.get("compared_with") else []),
    ])


def compared_sentence(other: dict, samples: int) -> str:
    """The card's line on another published model measured on the same test samples (`card.compare_with`)."""
    if other.get("not_compared"):
        return f"`{other['name']}` is not compared here: {other['not_compared']}."
    tosa = other["tosa_int8"]
    worst = min(tosa.values()) if tosa else None
    return (f"On the same {samples} test samples, `{other['name']}` (its card) scores {pct(other['float'])} in float"
            + (f" and {pct(worst)} in int8 as the NPU computes it (TOSA reference, lowest over its targets)"
               if worst is not None else "")
            + (f"; {other['tflite_name'] or 'its int8 .tflite'}: {pct(other['tflite_int8'])}"
               if other.get("tflite_int8") is not None else "") + ".")



def _accuracy_side_by_side(m: dict) -> tuple[str, list[str], list[list], str]:
    acc, other = m["accuracy"], m["tflite"]
    lite = acc.get("tflite_int8") or {}
    worst = min(acc["tosa_int8"].values()) if acc["tosa_int8"] else None
    target = other.get("quality_target")
    rows = [["float (PyTorch)", pct(acc["float"]), "–"],
            [f"{other['name']} (LiteRT, reference kernels)", pct(lite["int8"]) if lite else "–",
             pct(lite["agreement_int8_float"]) if lite else "–"],
            ["ExecuTorch int8 fake-quant", pct(acc["fake_quant_int8"]), "–"],
            *[[f"ExecuTorch int8, TOSA reference, {t}", pct(a), pct(acc["agreement_int8_float"][t])]
              for t, a in acc["tosa_int8"].items()]]
    verdict = ""
    if target is not None and worst is not None:
        verdict = (f" MLPerf Tiny's quality target for this task is {pct(target)}: the ExecuTorch int8 model as the "
                   f"NPU computes it scores {pct(worst)} on these samples ("
                   + ("meets it" if worst >= target else f"{100 * (target - worst):.1f} pp short") + ").")
    return (f"{acc['samples']} test samples", ["model", "top-1 accuracy", "top-1 agreement with float"], rows,
            verdict)

ACCURACY = Quality("accuracy", "accuracy", "test", _accuracy_glance, _accuracy_hub, accuracy_section,
                   _accuracy_cells, side_by_side=_accuracy_side_by_side)
FIDELITY = Quality("fidelity", "SQNR", "fidelity inputs", _fidelity_glance, _fidelity_hub,
                   fidelity_section, lambda m: ["–", "–", "–"])
