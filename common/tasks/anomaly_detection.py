"""Anomaly detection on machine sounds: 640-value log-mel windows → their reconstruction; a clip's anomaly score is
its mean reconstruction error, judged by ROC AUC per machine id (recipes/anomaly/*, MLPerf Tiny's AD benchmark).
Data, front end and score: common/anomaly.py. Its firmware takes the front end's windows, as MLPerf's benchmark
harness sends them, and the base task's app facts hold: the int8 window in, the int8 reconstruction out."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tinyzoo.common import tflite_path
from tinyzoo.common.card_view import Quality, rewrites_sentence, table
from tinyzoo.common.layout import data_root
from tinyzoo.common.schema import INT_NONNEG, INT_POS, TEXT, Choose, Key, Section, optional
from tinyzoo.common.tasks import Task, numel

WINDOWS = Key("int", ge=1)


def _auc(x) -> str:
    return "–" if x is None else f"{x:.4f}"


def _worst(quality: dict) -> float | None:
    return min((v["auc"] for v in quality["tosa_int8"].values()), default=None)


def _glance(m: dict) -> tuple[list[str], str, str]:
    q = m["auc"]
    return (["float AUC", "int8 AUC (TOSA reference)"], _auc(q["float"]["auc"]),
            ", ".join(f"{_auc(v['auc'])} ({t})" for t, v in q["tosa_int8"].items()))


def _hub(m: dict) -> tuple:
    q = m["auc"]
    figures = [(round(q["float"]["auc"], 4), "float ROC AUC"),
               (round(q["fake_quant_int8"]["auc"], 4), "int8 fake-quant ROC AUC")]
    figures += [(round(v["auc"], 4), f"int8 ROC AUC, TOSA reference ({t})") for t, v in q["tosa_int8"].items()]
    return "roc_auc", None, None, figures


def _rows(q: dict) -> list[list]:
    def row(name, v, lsb="–"):
        return [name, _auc(v["auc"]), _auc(v["pauc"]),
                "–" if v.get("score_sqnr_db") is None else f"{v['score_sqnr_db']:.1f}", lsb]

    return [row("float (PyTorch)", q["float"]), row("int8 fake-quant (PTQ)", q["fake_quant_int8"]),
            *[row(f"int8 TOSA reference, {t}", v, f"{q['max_lsb_diff_tosa_fake_quant'][t]} LSB")
              for t, v in q["tosa_int8"].items()]]


COLUMNS = ["model", "ROC AUC", "pAUC (FPR ≤ 0.1)", "score SQNR vs float (dB)", "max output diff vs fake-quant"]


def _section(m: dict) -> str:
    q, quant = m["auc"], m["quantization"]
    io = quant["io"]
    return "\n".join([
        "## Anomaly detection: float → int8 → int8 as the NPU computes it", "",
        f"On the same {q['clips']} test clips ({q['normal']} normal, {q['anomalous']} anomalous; {q['windows']:,} "
        f"windows) of machine ids {', '.join(q['machines'])}: a clip's anomaly score is the mean over its windows of "
        f"the mean squared reconstruction error against the float window (MLPerf Tiny's and DCASE 2020's score), "
        f"AUC and pAUC (standardized, McClish) per machine id, averaged, as the DCASE baseline reports them. The "
        f"TOSA reference model runs the exact integer graph Vela compiles for each target, on the windows quantized "
        f"with the model's input scale.", "",
        table(COLUMNS, _rows(q)), "",
        "Score SQNR: how closely each int8 model's clip scores follow float's (signal to quantization noise of the "
        "scores, dB); the last column isolates what lowering changed (the integer graph against the PyTorch int8 "
        "model), in output LSBs.", "",
        f"Quantization: {quant['scheme']} PTQ (ExecuTorch `EthosUQuantizer`"
        + (", the Linear weights per tensor as TFLite quantizes a FullyConnected" if quant.get("linear_weights")
           == "per_tensor" else ", per-channel weights") + f"), calibrated on "
        f"{quant['ptq']['calibration_samples']} training windows (`calibration.txt`"
        + (", activation ranges by their min/max" if quant["ptq"].get("observer") == "minmax" else "") + "). "
        f"Input int8 scale {io['input']['scale']:.6g}, zero point {io['input']['zero_point']}; output scale "
        f"{io['output']['scale']:.6g}, zero point {io['output']['zero_point']}."
        + (" " + rewrites_sentence(quant).strip() if quant.get("rewrites") else ""),
    ])


def _readme_cells(m: dict) -> list[str]:
    q = m["auc"]
    worst = _worst(q)
    return [f"{q['clips']:,} clips", f"AUC {_auc(q['float']['auc'])}", f"AUC {_auc(worst)}"]


def _data_section(m: dict) -> str:
    d = m["data"]
    return "\n".join([
        "## Data", "",
        f"**Training: {d['train']['clips']} normal clips** ({d['train']['windows']:,} windows); **test: "
        f"{d['test']['clips']} clips** ({d['test']['normal']} normal, {d['test']['anomalous']} anomalous), machine "
        f"{d['machine']}, ids {', '.join(d['test']['machines'])}."
        + (" **Synthetic** machine sounds in the DCASE layout (common/anomaly.py `write_synthetic_toycar`): "
           "ToyADMOS is not held where this card was made, so the AUC figures say how int8 follows float on sounds "
           "of this kind, not how well the model finds faults of real toy cars." if d.get("synthetic") else ""),
        *(["", m["data_note"]] if m.get("data_note") else []),
    ])


def _side_by_side(m: dict) -> tuple[str, list[str], list[list], str]:
    q, other = m["auc"], m["tflite"]
    lite = q.get("tflite_int8")
    rows = [["float (PyTorch)", _auc(q["float"]["auc"]), _auc(q["float"]["pauc"]), "–"],
            [f"{other['name']} (LiteRT, reference kernels)", *(
                [_auc(lite["auc"]), _auc(lite["pauc"]), f"{lite['score_sqnr_db']:.1f}"] if lite else ["–"] * 3)],
            ["ExecuTorch int8 fake-quant", _auc(q["fake_quant_int8"]["auc"]), _auc(q["fake_quant_int8"]["pauc"]),
             f"{q['fake_quant_int8']['score_sqnr_db']:.1f}"],
            *[[f"ExecuTorch int8, TOSA reference, {t}", _auc(v["auc"]), _auc(v["pauc"]), f"{v['score_sqnr_db']:.1f}"]
              for t, v in q["tosa_int8"].items()]]
    worst, target = _worst(q), other.get("quality_target")
    verdict = ""
    if target is not None and worst is not None:
        verdict = (f" MLPerf Tiny's quality target for this task is AUC {target:.2f}"
                   + (" on ToyADMOS: these synthetic clips do not measure it." if m["data"].get("synthetic") else
                      f": the ExecuTorch int8 model as the NPU computes it scores {worst:.4f} on these clips ("
                      + ("meets it" if worst >= target else f"{target - worst:.3f} short") + ")."))
    return (f"{q['clips']} test clips", ["model", "ROC AUC", "pAUC (FPR ≤ 0.1)", "score SQNR vs float (dB)"], rows,
            verdict)


AUC = Quality("auc", "ROC AUC", "test", _glance, _hub, _section, _readme_cells, data_section=_data_section,
              per_inference="One inference is one 640-value window; a 10-s clip is 196 of them.",
              side_by_side=_side_by_side)


def scores_of(outputs: np.ndarray, windows: np.ndarray, clips: int) -> np.ndarray:
    """Each clip's score from the reconstructions of its windows (clips * windows, values), in clip order."""
    return ((outputs - windows) ** 2).mean(axis=1).reshape(clips, -1).mean(axis=1)


class AnomalyDetection(Task):
    name = "anomaly-detection"
    quality = "auc"
    config_sections = ("frontend",)

    def card_view(self):
        return AUC

    def config_schema(self) -> dict:
        """Its dataset (DCASE 2020 Task 2's layout, or a synthetic set in it) and its front end."""
        return {
            "data": Choose("dataset", {"dcase2020_task2": {
                "dataset": TEXT, "machine": TEXT, "sample_rate": INT_POS,
                "synthetic": Section({"enabled": Key("bool"), "train_per_id": INT_NONNEG, "test_per_id": INT_POS,
                                      "ids": Key("list", item=INT_POS, min_length=1),
                                      "seed": optional(INT_NONNEG)}, optional=True)}}),
            "frontend": Choose("type", {"logmel_windows": {
                "type": TEXT, "sample_rate": INT_POS, "n_fft": Key("int", ge=2), "hop_length": INT_POS,
                "n_mels": INT_POS, "first_frame": INT_NONNEG, "frames": INT_POS, "window_frames": WINDOWS}}),
        }

    def config_problems(self, cfg) -> list[str]:
        fe, data, args = cfg.get("frontend") or {}, cfg.get("data") or {}, cfg.get("model", {}).get("args") or {}
        out = []
        if fe.get("type") != "logmel_windows":
            out.append(f"frontend.type = {fe.get('type')!r}: an anomaly-detection recipe takes logmel_windows")
            return out
        values = fe["window_frames"] * fe["n_mels"]
        if args.get("inputs", 640) != values:
            out.append(f"model.args.inputs = {args.get('inputs', 640)}: must equal frontend.window_frames * n_mels "
                       f"= {values}")
        if fe["window_frames"] > fe["frames"]:
            out.append(f"frontend.window_frames = {fe['window_frames']}: must be <= frontend.frames = {fe['frames']}")
        if data.get("sample_rate") not in (None, fe["sample_rate"]):
            out.append(f"frontend.sample_rate = {fe['sample_rate']}: must equal data.sample_rate = "
                       f"{data['sample_rate']}")
        if (cfg.get("quantize") or {}).get("qat", {}).get("enabled"):
            out.append("quantize.qat.enabled: an anomaly-detection recipe is quantized by PTQ only (set it to false)")
        return out

    # --- its part of the chain ------------------------------------------------------------------------------------

    def load_data(self, cfg, root, build_dir):
        from tinyzoo.common import anomaly  # heavy (torch), as below: the catalogue imports the tasks

        return anomaly.load(cfg, root, build_dir)

    def training(self, cfg, data) -> dict:
        """Each window reconstructs itself: mean squared error (the DCASE baseline's loss)."""
        import torch

        return {"loss": torch.nn.MSELoss()}

    def features_of(self, items, frontend_cfg):
        return items.windows

    def programs(self, model, data, cfg, build_dir, calibration, training):
        """One program: the autoencoder on one window, PTQ, the AUC ladder on every test clip's windows."""
        from tinyzoo.common import chain

        windows = data.test_windows.reshape(-1, data.test_windows.shape[-1])

        def evaluate(float_model, fake_quant, tosa_graphs, io):
            return evaluate_windows(float_model, fake_quant, tosa_graphs, io, data.test_windows, data.test,
                                    chain.reference_model(cfg, build_dir))

        def store(result, deployed):
            result["reference"]["sample"] = note
            deployed.update(result)

        reference, note = chain.public_reference(cfg, windows[:1])
        yield chain.Program(model, (windows[:1],), chain.batches(data.train.subset(calibration).windows), evaluate,
                            reference, store=store)

    def data_summary(self, cfg, data) -> dict:
        labels = data.test.labels
        return {"train": data.train.summary(), "machine": cfg["data"]["machine"], "synthetic": data.synthetic,
                "test": {"clips": len(labels), "normal": labels.count(0), "anomalous": labels.count(1),
                         "machines": sorted(set(data.test.machine_ids))},
                "data_root": str(data.data_root)}

    def needs_data_root(self, cfg) -> bool:
        """Not with `data.synthetic.enabled`: the build writes its synthetic clips itself."""
        return not (cfg["data"].get("synthetic") or {}).get("enabled")

    def data_hint(self, cfg) -> str:
        return "dir with dev_data/ToyCar/{train,test}/"

    def transforms(self, cfg, artifacts):
        from tinyzoo.common import anomaly

        return anomaly.frontend_of(cfg["frontend"]).eval()

    def evaluate_artifacts(self, artifacts, cfg, root, targets, log=print) -> dict:
        """The AUC ladder of a build's (or the published) artifacts on the DCASE-layout clips at `root`; without
        one, for weights built on a synthetic set (`data.synthetic.enabled`), on that same set written again."""
        import tempfile

        from tinyzoo.common import anomaly
        from tinyzoo.common.chain import load_artifacts

        if root is None and not self.needs_data_root(cfg):
            with tempfile.TemporaryDirectory(prefix="tinyzoo-synthetic-") as tmp:
                result = self.evaluate_artifacts(artifacts, cfg, anomaly.synthetic_set(cfg, Path(tmp)), targets, log)
            result["data_root"] = "the synthetic set of the config (data.synthetic), written again"
            return result
        frontend = anomaly.frontend_of(cfg["frontend"])
        test = anomaly.dcase_test_clips(data_root(root, anomaly.HOW_TO_GET), cfg["data"]["machine"],
                                        frontend.sample_rate)
        model, fake_quant, tosa_graphs, io = load_artifacts(artifacts, cfg, targets)
        result = evaluate_windows(model, fake_quant, tosa_graphs, io, anomaly.clip_windows(test.paths, frontend),
                                  test, None)
        result["data_root"] = str(root)
        return result

    def eval_lines(self, name, result) -> list[str]:
        q = result
        return [f"{name} on {q['clips']} test clips from {q['data_root']}",
                f"  float            AUC {q['float']['auc']:.4f}  pAUC {q['float']['pauc']:.4f}",
                f"  int8 fake-quant  AUC {q['fake_quant_int8']['auc']:.4f}  pAUC {q['fake_quant_int8']['pauc']:.4f}",
                *(f"  int8 TOSA {t:<15} AUC {v['auc']:.4f}  pAUC {v['pauc']:.4f}" for t, v in q["tosa_int8"].items())]

    # --- reading its builds ---------------------------------------------------------------------------------------

    def list_figures(self, metrics) -> dict:
        q = metrics.get("auc", {})
        return {"float_auc": (q.get("float") or {}).get("auc"),
                "tosa_int8_auc": {t: v["auc"] for t, v in (q.get("tosa_int8") or {}).items()}}

    def list_status(self, row) -> str:
        return (f"AUC float {row['float_auc']:.4f}, int8 (TOSA) "
                + ", ".join(f"{t} {a:.4f}" for t, a in (row["tosa_int8_auc"] or {}).items()))

    def index_quality(self, m) -> dict:
        return {"float_auc": m["auc"]["float"]["auc"], "test_clips": m["auc"]["clips"]}

    def index_target_quality(self, m, target) -> dict:
        return {"tosa_int8_auc": m["auc"]["tosa_int8"][target]["auc"]}

    def app_buffer_bytes(self, metrics, program=None) -> int:
        """The int8 window and one float error per window of a clip (TZ_APP_MAX_WINDOWS, 256), as
        common/firmware/apps/anomaly_detection.cpp holds them on a device (the float windows come in one at a time)."""
        return numel(metrics["model_info"]["input"]["shape"]) + 4 * 256

    def header_front_end(self, front, cfg, input_shape, source) -> list[str]:
        return []   # the app takes the front end's windows (MLPerf's harness sends them), no C front end


def evaluate_windows(float_model, fake_quant, tosa_graphs: dict, io: dict, test_windows, test, reference) -> dict:
    """The AUC ladder on the test clips' windows (clips, windows, values): float → int8 fake-quant → int8 TOSA
    reference per target (→ another tool's int8 .tflite, `reference`), each clip scored by its mean squared
    reconstruction error against the float windows."""
    from tinyzoo.common import anomaly
    from tinyzoo.common.verify import dequantize, logits_of, per_target, quantize, run_tosa, sqnr_db

    clips = len(test.paths)
    windows = test_windows.reshape(-1, test_windows.shape[-1])
    x = windows.numpy()

    def judged(outputs, float_scores=None) -> dict:
        scores = scores_of(np.asarray(outputs, dtype=np.float64), x, clips)
        out = anomaly.auc_by_machine(scores, test.labels, test.machine_ids)
        return {"auc": out["auc"], "pauc": out["pauc"], "per_machine": out["per_machine"],
                **({"score_sqnr_db": sqnr_db(float_scores, scores)} if float_scores is not None else {})}

    float_out = logits_of(float_model, windows).numpy()
    float_scores = scores_of(float_out.astype(np.float64), x, clips)
    fq_out = logits_of(fake_quant, windows)
    result = {"clips": clips, "windows": int(len(windows)), "normal": test.labels.count(0),
              "anomalous": test.labels.count(1), "machines": sorted(set(test.machine_ids)), "max_fpr": 0.1,
              "float": judged(float_out), "fake_quant_int8": judged(fq_out.numpy(), float_scores),
              "tosa_int8": {}, "max_lsb_diff_tosa_fake_quant": {}, "tosa_samples_per_second": {}}
    fq_int = quantize(fq_out, io["output"]).astype(np.int32)
    for target, (raw, rate) in per_target(tosa_graphs, lambda graph: run_tosa(graph, quantize(windows, io["input"]))
                                          ).items():
        result["tosa_int8"][target] = judged(dequantize(raw, io["output"]), float_scores)
        result["max_lsb_diff_tosa_fake_quant"][target] = int(np.abs(fq_int - raw.astype(np.int32)).max())
        result["tosa_samples_per_second"][target] = rate
    if reference is not None:   # another tool's int8 model of the network, on the same windows
        result["tflite_int8"] = judged(tflite_path.LiteRT(reference).run(x), float_scores)
    return result


TASK = AnomalyDetection()
