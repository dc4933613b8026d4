"""Text generation: a fixed-window language model (token embeddings → next-token logits at every position) and
its KV-cache decode step (recipes/text/*). Data, evaluation and generation: common/text.py; its card's sections:
common/text_card.py; the app: common/firmware/apps/text_generation.cpp."""
from __future__ import annotations

from tinyzoo.common import text_card
from tinyzoo.common.errors import ConfigError
from tinyzoo.common.schema import INT_POS, Key, Section
from tinyzoo.common.tasks import Task, numel
from tinyzoo.common.tokenizer import Tokenizer


class TextGeneration(Task):
    name = "text-generation"
    quality = "perplexity"
    config_sections = ("tokenizer", "evaluate", "generate")
    eval_files = ("tokenizer.model",)
    eval_data_file_ok = True    # the validation text file itself
    front_end_section = "tokenizer"

    def card_view(self):
        """The perplexity ladder, the tokenizer, generated samples and the decode step (common/text_card.py)."""
        return text_card.PERPLEXITY

    def config_schema(self) -> dict:
        return {
            "tokenizer": Section({"type": Key("str", choices=("sentencepiece_bpe",)), "vocab_size": Key("int", ge=8)}),
            "evaluate": Section({"tosa_windows": INT_POS}),
            "generate": Section({"prompts": Key("list", item=Key("str"), min_length=1), "new_tokens": INT_POS}),
            "kv_cache": Section({"enabled": Key("bool"), "calibration_windows": INT_POS, "calibration_steps": INT_POS,
                                 "windows": INT_POS, "new_tokens": INT_POS}),
        }

    def config_problems(self, cfg) -> list[str]:
        tok, args = cfg.get("tokenizer") or {}, cfg.get("model", {}).get("args") or {}
        if "vocab_size" in tok and "vocab_size" in args and tok["vocab_size"] != args["vocab_size"]:
            return [f"tokenizer.vocab_size = {tok['vocab_size']}: must equal model.args.vocab_size = "
                    f"{args['vocab_size']}"]
        return []

    def load_data(self, cfg, root, build_dir):
        """The tokenizer trained on the training stories; token windows of the training and validation text."""
        from tinyzoo.common import distributed, text

        with distributed.main_first():   # process 0 trains and saves the tokenizer, the others load it
            tokenizer = None if distributed.is_main() else Tokenizer.load(build_dir / "tokenizer.model")
            return text.load(cfg, root, build_dir, tokenizer=tokenizer)

    def training(self, cfg, data) -> dict:
        """Next-token cross-entropy on token windows (the deployed graph takes their embeddings)."""
        from tinyzoo.common import text

        return {"forward": text.next_token_logits}

    def programs(self, lm, data, cfg, build_dir, calibration, training):
        """The window graph (perplexity ladder, then int8 generation samples on the TOSA reference), and with
        `kv_cache.enabled` the KV-cache decode step."""
        from tinyzoo.common import text

        yield text.window_program(lm, data, cfg, build_dir, calibration)
        if cfg.get("kv_cache", {}).get("enabled"):
            yield text.decode_step_program(lm, cfg,
                                           data.train.inputs[calibration[:cfg["kv_cache"]["calibration_windows"]]],
                                           data.validation, data.tokenizer, build_dir)

    def data_summary(self, cfg, data) -> dict:
        return {"train": data.train.summary(), "test": data.validation.summary(), "data_root": str(data.data_root),
                "tokenizer": {"vocab_size": data.tokenizer.vocab_size, **cfg["tokenizer"]}}

    def data_hint(self, cfg) -> str:
        return "dir with the TinyStories .txt files"

    def transforms(self, cfg, artifacts):
        from tinyzoo.common.frontend.transforms import TextTokens

        return TextTokens(artifacts() / "tokenizer.model").eval()

    def evaluate_artifacts(self, artifacts, cfg, root, targets, log=print) -> dict:
        from tinyzoo.common import text

        result = text.evaluate_artifacts(artifacts, cfg, root, targets)
        result["data_root"] = str(root)
        return result

    def eval_lines(self, name, result) -> list[str]:
        spread = result["tosa_windows"]
        lines = [f"{name}: perplexity on all of {result['text']['file']}: {result['tokens']:,} predicted tokens "
                 f"({result['windows']:,} windows)",
                 f"  float            {result['float']['perplexity']:.3f}",
                 f"  int8 fake-quant  {result['fake_quant_int8']['perplexity']:.3f}"]
        lines += [f"  {half_name:<12}     float {half['float']['perplexity']:.3f}, int8 fake-quant "
                  f"{half['fake_quant_int8']['perplexity']:.3f}"
                  for half_name, half in zip(("first half", "second half"), result["halves"])]
        lines.append(f"  on {spread['windows']} windows spread over all: float {spread['float']['perplexity']:.3f}, "
                     f"int8 fake-quant {spread['fake_quant_int8']['perplexity']:.3f}")
        lines += [f"  int8 TOSA {target:<15} {e['perplexity']:.3f}  (greedy token agrees with float on "
                  f"{result['agreement_int8_float'][target]:.2%})" for target, e in result["tosa_int8"].items()]
        return lines

    def list_figures(self, metrics) -> dict:
        # float on the windows the TOSA graph ran on: the two figures compare like with like
        return {"float_perplexity": metrics["perplexity"]["tosa_windows"]["float"]["perplexity"],
                "tosa_int8_perplexity": {t: v["perplexity"] for t, v in metrics["perplexity"]["tosa_int8"].items()}}

    def list_status(self, row) -> str:
        return (f"perplexity float {row['float_perplexity']:.2f}, int8 (TOSA) "
                + ", ".join(f"{t} {p:.2f}" for t, p in row["tosa_int8_perplexity"].items()))

    def index_quality(self, m) -> dict:
        return {"float_perplexity": m["perplexity"]["float"]["perplexity"], "test_tokens": m["perplexity"]["tokens"]}

    def index_target_quality(self, m, target) -> dict:
        return {"tosa_int8_perplexity": m["perplexity"]["tosa_int8"][target]["perplexity"]}

    def app_buffer_bytes(self, metrics, program=None) -> int:
        """The int8 window and the token ids (TZ_LM_MAX_NEW_TOKENS + the prompt's window); running the decode
        step, also its int8 cache of keys and values and its mask (common/firmware/apps/text_generation.cpp)."""
        from tinyzoo.common.firmware.header_lines import MAX_NEW_TOKENS

        shape = metrics["model_info"]["input"]["shape"]
        window = numel(shape) + 4 * (shape[1] + MAX_NEW_TOKENS)
        if program is None:
            return window
        _, _, _, keys, values, visible = self._decode_step_shapes(metrics, program)
        return window + numel(keys) + numel(values) + numel(visible)

    def read_only_data_bytes(self, metrics, program=None) -> int:
        """The (vocab, dim) int8 token-embedding table the app copies rows from; for the decode step, its own
        table and the int8 cos/sin rows of the positions the app reaches (a window's prompt + TZ_LM_MAX_NEW_TOKENS)."""
        from tinyzoo.common.firmware.header_lines import MAX_NEW_TOKENS

        info = metrics["model_info"]
        table = int(info["output"]["shape"][-1]) * int(info["input"]["shape"][-1])
        if program is None:
            return table
        cos = self._decode_step_shapes(metrics, program)[1]
        return table + 2 * cos[-1] * (info["input"]["shape"][1] + MAX_NEW_TOKENS - 1)

    @staticmethod
    def _decode_step_shapes(metrics, program):
        shapes = (metrics.get("kv_cache") or {}).get("shapes")
        if program != "decode_step" or shapes is None:
            raise ConfigError(f"{metrics.get('model', 'this model')} has no program {program!r} with recorded shapes "
                              f"(a language model's decode_step, built with kv_cache.enabled)")
        return shapes["inputs"]

    def header_front_end(self, front, cfg, input_shape, source) -> list[str]:
        return []   # its front end is the tokenizer: header_task writes the prompt's ids and the piece table

    def header_task(self, cfg, metrics, source, *, artifact_dir=None, prompt=None, new_tokens=None) -> list[str]:
        from tinyzoo.common.firmware import header_lines

        info = metrics.get("model_info")
        if info is None or artifact_dir is None:
            raise ConfigError(f"{source}: a language-model header needs the published model (metrics.json with "
                              f"model_info, and tokenizer.model next to it)")
        generate_cfg = cfg.get("generate", {})
        prompts = generate_cfg.get("prompts") or []
        if prompt is None and not prompts:
            raise ConfigError(f"{source}: no prompt: pass --prompt or list `generate.prompts` in the config")
        return header_lines.lm_lines(info, artifact_dir / "tokenizer.model",
                                      prompt if prompt is not None else prompts[0],
                                      int(new_tokens if new_tokens is not None else generate_cfg.get("new_tokens", 16)),
                                      kv=metrics.get("kv_cache"))


TASK = TextGeneration()
