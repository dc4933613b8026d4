"""How a language model's card shows its figures (the text-generation task's `card_view`): the data and tokenizer,
the perplexity ladder float → int8 fake-quant → int8 TOSA per target, the int8 graph's generated samples and the
KV-cache decode step. The sections every card has are in common/card.py."""
from __future__ import annotations

from tinyzoo.common.card_view import Quality, pct, rewrites_sentence, table


def text_data_section(m: dict) -> str:
    d = m["data"]
    train, test, tok = d["train"], d["test"], d["tokenizer"]
    ppl = m["perplexity"]
    return "\n".join([
        "## Data", "",
        f"**Training: {train['stories']:,} stories** ({train['words']:,} words, {train['bytes'] / 1e6:.2f} MB of "
        f"`{train['file']}`) → {train['tokens']:,} tokens in {train['windows']:,} non-overlapping windows of "
        f"{m['model_info']['input']['shape'][1]} tokens.",
        "",
        f"**Validation:** `{test['file']}` ({test['stories']:,} text blocks, {test['words']:,} words) → "
        f"{ppl['windows']:,} windows, {ppl['tokens']:,} predicted tokens, all of them evaluated (float and int8 "
        f"fake-quant; the TOSA reference on {ppl['tosa_windows']['windows']} of them, spread evenly). Nothing of the "
        f"validation text was used for training, the tokenizer or calibration.",
        "",
        f"**Tokenizer:** {tok['type']} with {tok['vocab_size']:,} pieces, trained on the training stories.",
        "",
        "**Model:** " + ", ".join(f"{k} {v}" for k, v in m["config"]["model"]["args"].items()) + ".",
        *(["", m["data_note"]] if m.get("data_note") else []),
    ])


def perplexity_section(m: dict) -> str:
    ppl, q = m["perplexity"], m["quantization"]

    def row(name, e, agree_float="–", agree_fq="–", lsb="–"):
        return [name, f"{e['perplexity']:.3f}", f"{e['nll_per_token']:.4f}", pct(e["next_token_accuracy"]),
                agree_float, agree_fq, lsb]

    spread = ppl["tosa_windows"]
    rows = [row("float (PyTorch)", spread["float"]),
            row(f"int8 fake-quant ({q['deployed'].upper()})", spread["fake_quant_int8"])]
    for t, e in ppl["tosa_int8"].items():
        rows.append(row(f"int8 TOSA reference, {t}", e, pct(ppl["agreement_int8_float"][t]),
                        pct(ppl["agreement_tosa_fake_quant"][t]), f"{ppl['max_lsb_diff_tosa_fake_quant'][t]} LSB"))
    worst = max(e["perplexity"] for e in ppl["tosa_int8"].values())
    slices = [["all", f"{ppl['windows']:,}", f"{ppl['tokens']:,}", f"{ppl['float']['perplexity']:.3f}",
               f"{ppl['fake_quant_int8']['perplexity']:.3f}",
               f"{100 * (ppl['fake_quant_int8']['perplexity'] / ppl['float']['perplexity'] - 1):+.2f} %"]]
    for name, h in zip(("first half", "second half"), ppl["halves"]):
        slices.append([name, f"{h['windows']:,}", f"{h['tokens']:,}", f"{h['float']['perplexity']:.3f}",
                       f"{h['fake_quant_int8']['perplexity']:.3f}",
                       f"{100 * (h['fake_quant_int8']['perplexity'] / h['float']['perplexity'] - 1):+.2f} %"])
    moves = [h["float"]["perplexity"] for h in ppl["halves"]]
    io = q["io"]
    return "\n".join([
        "## Perplexity: float → int8 → int8 as the NPU computes it", "",
        "Float and int8 fake-quant on every validation window, and on each half of the validation text: how much "
        "the figure moves between slices of the same text (text of another kind moves it more).", "",
        table(["validation text", "windows", "predicted tokens", "float perplexity", "int8 fake-quant perplexity",
                "int8 vs float"], slices), "",
        *([f"The two halves differ by {100 * (max(moves) / min(moves) - 1):.1f} % in float perplexity.", ""]
          if len(moves) == 2 else []),
        f"The integer graph on {spread['windows']} windows ({spread['tokens']:,} predicted tokens) spread evenly "
        f"over all {spread['spread_over']:,} (the TOSA reference model takes about a second per window), with float "
        f"and fake-quant on exactly those windows: the reference model runs the exact integer graph Vela compiles "
        f"for each target, on the int8 token embeddings.", "",
        table(["model", "perplexity", "NLL / token (nats)", "next-token top-1", "greedy token = float",
                "greedy token = fake-quant", "max logit diff vs fake-quant"], rows), "",
        f"int8 on the NPU changes perplexity by {100 * (worst / spread['float']['perplexity'] - 1):+.2f} % relative "
        f"to float on those windows (worst target).", "",
        f"Quantization: {q['scheme']} (ExecuTorch `EthosUQuantizer`, symmetric, per-channel weights), PTQ calibrated "
        f"on {q['ptq']['calibration_samples']} committed training windows (`calibration.txt`); deployed: "
        f"{q['deployed'].upper()}. Input (embedding) scale {io['input']['scale']:.6g}, zero point "
        f"{io['input']['zero_point']}; output (logit) scale {io['output']['scale']:.6g}, zero point "
        f"{io['output']['zero_point']}." + (" " + rewrites_sentence(q).strip() if q.get("rewrites") else ""),
    ])


def generation_section(m: dict) -> str:
    g = m["generation"]
    rows = [[f"`{s['prompt']}`", s["int8"].replace("|", "\\|").replace("\n", " "),
             s["float"].replace("|", "\\|").replace("\n", " "), f"{s['tokens_identical_to_float']} / {s['new_tokens']}"]
            for s in g["samples"]]
    r = m["targets"][g["target"]]
    return "\n".join([
        "## Generated samples (int8 graph, greedy)", "",
        f"Continuations of {g['new_tokens']} tokens computed by the int8 TOSA graph for {g['target']} (what the NPU "
        f"computes; greedy, the first maximum on ties, as firmware does), with the float model's beside them. Each "
        f"token is one inference of the fixed window: {r['cycles']:,} NPU cycles = {r['inference_time_ms']:.2f} ms "
        f"on {g['target']}, {1000 / r['inference_time_ms']:.1f} tokens/s (Vela estimate).", "",
        table(["prompt", "int8 continuation (NPU graph)", "float continuation",
               "tokens equal to float before the first difference"], rows),
    ])


def kv_cache_section(m: dict) -> str:
    kv, fixed = m["kv_cache"], m["targets"]
    rows = []
    for t, r in kv["targets"].items():
        rows.append([t, f"{r['cycles']:,}", f"{r['inference_time_ms']:.3f}", f"{1000 / r['inference_time_ms']:.0f}",
                     f"{fixed[t]['cycles'] / r['cycles']:.1f}x" if t in fixed else "–", f"{r['sram_kib']:.2f}",
                     f"{r['npu_ops']} / {r['cpu_ops']}", f"{r['pte_bytes'] / 1024:.1f}"])
    ladder = [["float (PyTorch)", f"{kv['float']['perplexity']:.3f}", "–"]]
    ladder += [[f"int8 TOSA reference, {t}", f"{e['perplexity']:.3f}", pct(kv["agreement_int8_float"][t])]
               for t, e in kv["tosa_int8"].items()]
    s = kv["sample"]
    return "\n".join([
        "## KV-cache decode step (one token per inference)", "",
        "A second graph from the same weights (`DecodeStep` in the recipe's model.py): the newest token's embedding, "
        "its rotary row, and the cached rotated keys and values of the previous tokens (a ring of context - 1 slots "
        "per layer, with a 0/1 mask of filled slots) in; the logits and the token's own keys and values per layer out, "
        "which the app writes into the ring. Inside the window it computes exactly what the fixed-window graph "
        "computes at the last position; past it, it is sliding-window attention (the cached keys keep the context "
        "they were computed with). Its program is `<target>/decode_step/model.pte`.", "",
        table(["target", "cycles per token", "time per token (ms)", "tokens/s", "faster than the fixed window",
                "SRAM (KiB)", "ops NPU / CPU", ".pte (KiB)"], rows), "",
        f"Teacher-forced decoding of {kv['windows']} validation windows (spread evenly) "
        f"({kv['tokens']:,} tokens), token "
        f"by token, each int8 step on the TOSA reference (new keys and values requantized into the cache's input "
        f"scale, as the app does):", "",
        table(["decode step", "perplexity", "greedy token = float"], ladder), "",
        f"Greedy continuation of `{s['prompt']}` by the int8 decode step ({s['target']}, {s['new_tokens']} tokens): "
        f"{s['int8']}",
    ])


def _perplexity_glance(m: dict) -> tuple[list[str], str, str]:
    ppl = m["perplexity"]
    return (["float perplexity", "int8 perplexity (TOSA reference)"], f"{ppl['float']['perplexity']:.3f}",
            ", ".join(f"{v['perplexity']:.3f} ({t})" for t, v in ppl["tosa_int8"].items()))


def _perplexity_hub(m: dict) -> tuple:
    ppl = m["perplexity"]
    spread = f"{ppl['tosa_windows']['windows']} windows spread over the validation text"
    figures = [(round(ppl["float"]["perplexity"], 3), "float perplexity"),
               (round(ppl["fake_quant_int8"]["perplexity"], 3), "int8 fake-quant perplexity")]
    figures += [(round(v["perplexity"], 3), f"int8 perplexity, TOSA reference ({t}; {spread})")
                for t, v in ppl["tosa_int8"].items()]
    return "perplexity", None, None, figures


def _perplexity_cells(m: dict) -> list[str]:
    """Predicted tokens, float and int8 perplexity on the same windows (int8 = the highest over targets)."""
    p = m["perplexity"]
    worst = max((v["perplexity"] for v in p["tosa_int8"].values()), default=None)
    p = p["tosa_windows"]          # float and int8 on the same windows
    return [f"{p['tokens']:,} tokens", f"ppl {p['float']['perplexity']:.2f}",
            f"ppl {worst:.2f}" if worst is not None else "–"]


def _kv_cache_if_built(m: dict) -> str:
    return kv_cache_section(m) if m.get("kv_cache") else ""


PERPLEXITY = Quality(
    "perplexity", "perplexity", "validation", _perplexity_glance, _perplexity_hub, perplexity_section,
    _perplexity_cells, data_section=text_data_section, frontend_title="## Tokenizer",
    per_inference="For this fixed-window language model one inference = one generated token: cycles and time above "
                  "are per token.",
    extra_sections=(generation_section, _kv_cache_if_built))
