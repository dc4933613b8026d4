"""Language-model data and evaluation for the chain: text → tokenizer → fixed-length token windows; perplexity
of the float model, the int8 fake-quant model and the integer TOSA graph per target; greedy generation by the
int8 graph: the text-generation task's data and evaluation (common/tasks/text_generation.py).

The deployed graph is fixed-window: it maps `context` token embeddings to next-token logits at every position.
Perplexity is measured on all the non-overlapping validation windows (every token predicted once, with the
context the window gives it), the integer TOSA graph on windows spread over them; generation places the prompt
at the start of the window and reads the logits at the last prompt position, sliding the window once it is full
(each new token costs one whole inference); the KV-cache
decode step (`decode_step_program`) is the second graph, one token per inference.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tinyzoo.common import chain, layout
from tinyzoo.common.data import tinystories
from tinyzoo.common.errors import ConfigError
from tinyzoo.common.tokenizer import BOS, Tokenizer, train_tokenizer
from tinyzoo.common.verify import dequantize, logits_of, per_target, quantize, run_tosa


def token_stream(stories: list[str], tokenizer: Tokenizer) -> torch.Tensor:
    """All stories as one token sequence, each story opened by BOS (as llama2.c's TinyStories models)."""
    ids: list[int] = []
    for story in stories:
        ids.append(BOS)
        ids.extend(tokenizer.encode(story))
    return torch.tensor(ids, dtype=torch.long)


@dataclass
class TokenWindows:
    """Non-overlapping windows of `context + 1` tokens: input = first `context`, target = last `context`."""
    split: str
    windows: torch.Tensor            # (N, context + 1)
    source: dict

    @classmethod
    def from_stream(cls, stream: torch.Tensor, context: int, split: str, source: dict) -> "TokenWindows":
        n = (len(stream) - 1) // context
        if n == 0:
            raise ConfigError(f"the {split} text has {len(stream)} tokens, fewer than one window of {context + 1}")
        starts = torch.arange(n) * context
        windows = torch.stack([stream[s:s + context + 1] for s in starts.tolist()])
        return cls(split, windows, source)

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def ids(self) -> list[str]:
        return [f"{self.split}:{i:06d}" for i in range(len(self))]

    @property
    def inputs(self) -> torch.Tensor:
        return self.windows[:, :-1]

    @property
    def labels(self) -> torch.Tensor:
        return self.windows[:, 1:]

    def batch(self, indices: list[int]):
        w = self.windows[indices]
        return w[:, :-1], w[:, 1:]

    def subset(self, indices: list[int]) -> "TokenWindows":
        return TokenWindows(self.split, self.windows[indices], self.source)

    def summary(self) -> dict:
        return {**self.source, "windows": len(self), "tokens": int(self.labels.numel())}


@dataclass
class TextData:
    tokenizer: Tokenizer
    train: TokenWindows | None
    validation: TokenWindows
    data_root: Path


def load(cfg: dict, root: str | Path | None, build_dir: Path | None = None, *, tokenizer: Tokenizer | None = None,
         train: bool = True, log=print) -> TextData:
    """Stories → tokenizer (trained on the training stories unless given) → token windows."""
    root = layout.data_root(root, "the folder with the TinyStories text files, or its parent")
    if cfg["data"]["dataset"] != "tinystories":
        raise ConfigError(f"unknown text dataset {cfg['data']['dataset']!r}: tinystories")
    context = cfg["model"]["args"]["context"]
    log(f"data root: {root}")
    train_stories = tinystories.load(root, "train") if (train or tokenizer is None) else None
    if tokenizer is None:
        start = time.perf_counter()
        tokenizer = train_tokenizer(train_stories.stories, cfg["tokenizer"])
        log(f"tokenizer: {tokenizer.vocab_size} pieces trained in {time.perf_counter() - start:.1f} s")
        if build_dir is not None:
            tokenizer.save(Path(build_dir) / "tokenizer.model")
    if tokenizer.vocab_size != cfg["model"]["args"]["vocab_size"]:
        raise ConfigError(f"the tokenizer has {tokenizer.vocab_size} pieces but model.args.vocab_size is "
                          f"{cfg['model']['args']['vocab_size']}: make them equal")
    validation = tinystories.load(root, "validation").head(cfg["data"].get("max_validation_stories"))
    val = TokenWindows.from_stream(token_stream(validation.stories, tokenizer), context, "validation",
                                   validation.summary())
    windows = None
    if train:
        train_stories = train_stories.head(cfg["data"].get("max_train_stories"))
        windows = TokenWindows.from_stream(token_stream(train_stories.stories, tokenizer), context, "train",
                                           train_stories.summary())
    return TextData(tokenizer, windows, val, root)


@torch.no_grad()
def embeddings_of(lm, tokens: torch.Tensor) -> torch.Tensor:
    """The graph's input: the token-embedding rows the app copies from its table."""
    return lm.embed(tokens).detach()


def _nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, int, int]:
    """Summed negative log-likelihood, tokens, correct top-1 next-token predictions."""
    logits = logits.reshape(-1, logits.shape[-1]).float()
    labels = labels.reshape(-1)
    nll = torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
    return float(nll), int(labels.numel()), int((logits.argmax(-1) == labels).sum())


def _ladder_entry(nll: float, tokens: int, correct: int) -> dict:
    return {"perplexity": math.exp(nll / tokens), "nll_per_token": nll / tokens,
            "next_token_accuracy": correct / tokens}


@torch.no_grad()
def window_scores(model, embeddings: torch.Tensor, labels: torch.Tensor, batch: int = 64):
    """Per window: summed NLL (N,), correct top-1 next tokens (N,) and the greedy next tokens (N, context), a
    chunk at a time (the logits of a whole validation text do not need to be held)."""

    nll, correct, tokens = [], [], []
    for i in range(0, len(labels), batch):
        logits = logits_of(model, embeddings[i:i + batch], batch).float()
        target = labels[i:i + batch]
        nll.append(torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none").sum(1))
        tokens.append(logits.argmax(-1))
        correct.append((tokens[-1] == target).sum(1))
    return torch.cat(nll).double(), torch.cat(correct), torch.cat(tokens)


def _entry(nll: torch.Tensor, correct: torch.Tensor, tokens: int) -> dict:
    return _ladder_entry(float(nll.sum()), tokens, int(correct.sum()))


def spread(count: int, total: int) -> list[int]:
    """`count` window indices spread evenly over `total` (every k-th from the first), all of them if fewer."""
    if count >= total:
        return list(range(total))
    return [int(i) for i in np.linspace(0, total - 1, count).round().astype(int)]


def compare_perplexity(float_lm, fake_quant, embeddings: torch.Tensor, labels: torch.Tensor,
                       tosa_graphs: dict[str, Path], io: dict, tosa_windows: int) -> dict:
    """The quality ladder. Float and int8 fake-quant on every window given (and on each half of them, to show
    how much the figure moves between slices of the text); the integer TOSA graph per target on `tosa_windows`
    windows spread over all of them (the reference model takes about a second per window), with float and
    fake-quant on exactly those windows beside it, and how often the int8 graph's greedy next token equals the
    float model's and the fake-quant program's."""

    per_window = labels.shape[1]
    f_nll, f_correct, f_next = window_scores(float_lm, embeddings, labels)
    q_nll, q_correct, q_next = window_scores(fake_quant, embeddings, labels)
    half = len(labels) // 2

    def ladder(rows) -> dict:
        rows = torch.as_tensor(rows, dtype=torch.long)
        tokens = len(rows) * per_window
        return {"windows": len(rows), "tokens": tokens, "float": _entry(f_nll[rows], f_correct[rows], tokens),
                "fake_quant_int8": _entry(q_nll[rows], q_correct[rows], tokens)}

    chosen = spread(tosa_windows, len(labels))
    result = {**ladder(range(len(labels))),
              "halves": [ladder(range(half)), ladder(range(half, len(labels)))] if half else [],
              "tosa_windows": {**ladder(chosen), "spread_over": len(labels)},
              "tosa_int8": {}, "agreement_int8_float": {}, "agreement_tosa_fake_quant": {},
              "max_lsb_diff_tosa_fake_quant": {}, "tosa_windows_per_second": {}}
    if tosa_graphs:
        fq_int = quantize(logits_of(fake_quant, embeddings[chosen]), io["output"]).astype(np.int32)
    for target, (raw, rate) in per_target(
            tosa_graphs, lambda graph: run_tosa(graph, quantize(embeddings[chosen], io["input"]))).items():
        logits = torch.from_numpy(dequantize(raw, io["output"]))
        result["tosa_int8"][target] = _ladder_entry(*_nll(logits, labels[chosen]))
        tosa_next = logits.argmax(-1)
        result["agreement_int8_float"][target] = float((tosa_next == f_next[chosen]).float().mean())
        result["agreement_tosa_fake_quant"][target] = float((tosa_next == q_next[chosen]).float().mean())
        result["max_lsb_diff_tosa_fake_quant"][target] = int(np.abs(fq_int - raw.astype(np.int32)).max())
        result["tosa_windows_per_second"][target] = rate
    return result


def greedy_generate(next_logits, prompt: list[int], new_tokens: int, context: int) -> list[int]:
    """Greedy decoding with a fixed window: `next_logits(window (context,)) → logits (context, vocab)`; the
    prompt fills the window from the start (later positions are padding the causal mask hides), and once the
    window is full it slides by one token per step."""
    tokens = list(prompt)
    for _ in range(new_tokens):
        window = tokens[-context:]
        position = len(window) - 1
        padded = window + [0] * (context - len(window))
        logits = next_logits(torch.tensor(padded, dtype=torch.long))
        tokens.append(int(np.argmax(np.asarray(logits[position]))))   # first maximum: what firmware does
    return tokens[len(prompt):]


def generation_samples(float_lm, tosa_path: Path, io: dict, tokenizer: Tokenizer, cfg: dict) -> list[dict]:
    """Greedy continuations of the config's prompts by the int8 TOSA graph (what the NPU computes), and by the
    float model for comparison."""

    gen = cfg["generate"]
    context = cfg["model"]["args"]["context"]
    graph = Path(tosa_path).read_bytes()

    def int8_logits(window):
        raw, _ = run_tosa(graph, quantize(embeddings_of(float_lm, window[None]), io["input"]))
        return dequantize(raw[0], io["output"])

    @torch.no_grad()
    def float_logits(window):
        return float_lm.eval()(embeddings_of(float_lm, window[None]))[0].numpy()

    samples = []
    for prompt in gen["prompts"]:
        ids = [BOS] + tokenizer.encode(prompt)
        start = time.perf_counter()
        int8_ids = greedy_generate(int8_logits, ids, gen["new_tokens"], context)
        seconds = time.perf_counter() - start
        float_ids = greedy_generate(float_logits, ids, gen["new_tokens"], context)
        same = next((i for i, (a, b) in enumerate(zip(int8_ids, float_ids)) if a != b), len(int8_ids))
        samples.append({"prompt": prompt, "int8": tokenizer.decode(int8_ids), "float": tokenizer.decode(float_ids),
                        "new_tokens": len(int8_ids), "tokens_identical_to_float": same,
                        "tosa_seconds": round(seconds, 2)})
    return samples


def next_token_logits(lm, tokens: torch.Tensor) -> torch.Tensor:
    """The training view of the LM for common.train.fit: token windows (B, context) → logits (B, vocab, context),
    the layout CrossEntropyLoss takes (class dimension second)."""
    return lm.tokens_to_logits(tokens).transpose(1, 2)


def perplexity_evaluator(cfg: dict, embeddings_eval: torch.Tensor, labels_eval: torch.Tensor):
    """What `chain.deploy` runs after lowering, for a language model."""
    def evaluate(float_lm, fake_quant, tosa_graphs: dict, io: dict) -> dict:
        return compare_perplexity(float_lm, fake_quant, embeddings_eval, labels_eval, tosa_graphs, io,
                                  cfg["evaluate"]["tosa_windows"])
    return evaluate


def evaluate_artifacts(artifacts_dir: Path, cfg: dict, root: str | Path | None,
                       targets: list[str] | None = None) -> dict:
    """`tinyzoo eval` for a language model: the perplexity ladder of a build's (or the published) artifacts on
    all the validation text at `root` (a folder, or the text file itself), tokenized with the artifacts' own
    tokenizer."""

    lm, fake_quant, tosa_graphs, io = chain.load_artifacts(artifacts_dir, cfg, targets)
    tokenizer = Tokenizer.load(Path(artifacts_dir) / "tokenizer.model")
    whole = {**cfg, "data": {**cfg["data"], "max_validation_stories": None}}   # a user's text: all of it
    data = load(whole, root, tokenizer=tokenizer, train=False, log=lambda *_: None)
    windows = data.validation
    result = compare_perplexity(lm, fake_quant, embeddings_of(lm, windows.inputs), windows.labels, tosa_graphs, io,
                                cfg["evaluate"]["tosa_windows"])
    return {**result, "text": windows.source}


class KVCache:
    """The decode step's cache as the app keeps it: per layer `slots` rows of rotated keys and of values, written
    as a ring (slot p % slots), and which slots are filled."""

    def __init__(self, step, batch: int):
        self.step, self.depth, self.slots = step, step.depth, step.slots
        self.keys = torch.zeros(batch, self.depth * self.slots, step.dim)
        self.values = torch.zeros(batch, self.depth * self.slots, step.dim)
        self.filled = torch.zeros(self.slots)
        self.position = 0

    def inputs(self, tokens: torch.Tensor) -> tuple:
        """The decode step's six inputs for the next token of each row (`tokens`: (B,))."""
        lm, batch = self.step.lm, len(tokens)
        cos, sin = lm.rotary(self.position)
        visible = torch.cat([self.filled, torch.ones(1)]).view(1, 1, -1)
        return (embeddings_of(lm, tokens[:, None]), cos.view(1, 1, -1).repeat(batch, 1, 1),
                sin.view(1, 1, -1).repeat(batch, 1, 1), self.keys.clone(), self.values.clone(),
                visible.repeat(batch, 1, 1))

    def append(self, new_keys: torch.Tensor, new_values: torch.Tensor) -> None:
        slot = self.position % self.slots
        rows = torch.arange(self.depth) * self.slots + slot
        self.keys[:, rows] = new_keys
        self.values[:, rows] = new_values
        self.filled[slot] = 1
        self.position += 1


DECODE_POSITIONS = 512   # rotary rows the app can take: a prompt of up to a window and 256 new tokens (or more)


@torch.no_grad()
def write_decode_step_tables(step, io: dict, directory: Path, positions: int = DECODE_POSITIONS) -> list[Path]:
    """What the app feeds the decode step besides its cache, exactly as `KVCache.inputs` computes it and
    quantized with the step's input scales: `embedding_int8.bin`, the (vocab, dim) token embeddings at input 0's
    scale (not the window graph's), and `rotary_int8.bin`, (positions, 2, head_dim): the cos row then the sin row
    of each absolute position at inputs 1 and 2's."""

    lm = step.lm
    embedding = quantize(embeddings_of(lm, torch.arange(lm.token_embedding.weight.shape[0])), io["inputs"][0])
    rows = [lm.rotary(p) for p in range(positions)]
    rotary = np.stack([np.stack([quantize(cos, io["inputs"][1]), quantize(sin, io["inputs"][2])]) for cos, sin in rows])
    return [_write_table(embedding, Path(directory) / "embedding_int8.bin"),
            _write_table(rotary, Path(directory) / "rotary_int8.bin")]


@torch.no_grad()
def kv_decode(step, tokens: torch.Tensor, run=None, keep: list | None = None) -> torch.Tensor:
    """Teacher-forced decoding of `tokens` (B, N) one token at a time through the decode step: logits (B, N, V).
    `run(inputs) → (logits, new_k, new_v)` replaces the float step (e.g. the int8 TOSA graph); `keep`, if given,
    collects the inputs of every step (calibration)."""
    cache = KVCache(step, len(tokens))
    out = []
    for i in range(tokens.shape[1]):
        inputs = cache.inputs(tokens[:, i])
        if keep is not None:
            keep.append(inputs)
        logits, new_k, new_v = (run or step)(*inputs)
        cache.append(new_k, new_v)
        out.append(logits[:, 0])
    return torch.stack(out, 1)


def tosa_step(tosa_path: Path | bytes, io: dict):
    """The int8 TOSA decode step as a float function: quantize each input with its scale, run the graph
    (`verify.run_tosa`, one row at a time), dequantize each output (the app requantizes the new keys/values into
    the cache's input scale likewise)."""

    graph = tosa_path if isinstance(tosa_path, bytes) else Path(tosa_path).read_bytes()

    def run(*inputs):
        outputs, _ = run_tosa(graph, [np.ascontiguousarray(quantize(x, q)) for x, q in zip(inputs, io["inputs"])])
        outputs = outputs if isinstance(outputs, list) else [outputs]
        return tuple(torch.from_numpy(dequantize(o, q)) for o, q in zip(outputs, io["outputs"]))
    return run


def decode_step_program(lm, cfg: dict, calibration_windows: torch.Tensor, validation: TokenWindows,
                        tokenizer: Tokenizer, build_dir: Path, log=print):
    """The model's second program, the KV-cache decode step (`decode_step()`), for the same chain as the window
    graph (program "decode_step", its metrics under `kv_cache`): PTQ on the decode inputs of the calibration
    windows, one .pte per target, and on the TOSA reference: perplexity of teacher-forced decoding of validation
    windows and a greedy continuation, against the float model; the app's embedding and rotary tables."""

    kv = cfg["kv_cache"]
    step = lm.decode_step().eval()
    samples: list = []
    kv_decode(step, calibration_windows, keep=samples)
    every = max(1, len(samples) // kv["calibration_steps"])
    calibration = samples[::every][:kv["calibration_steps"]]
    example = tuple(x[:1] for x in calibration[-1])
    log(f"KV-cache decode step: PTQ on {len(calibration)} steps x {len(calibration_windows)} windows")
    windows = validation.subset(spread(kv["windows"], len(validation)))

    def evaluate(float_step, fake_quant, graphs: dict, io: dict) -> dict:
        float_logits = kv_decode(float_step, windows.inputs)
        result = {"windows": len(windows), "tokens": int(windows.labels.numel()),
                  "float": _ladder_entry(*_nll(float_logits, windows.labels)), "tosa_int8": {},
                  "agreement_int8_float": {}}
        start = time.perf_counter()
        for target, logits in per_target(
                graphs, lambda graph: kv_decode(float_step, windows.inputs, run=tosa_step(graph, io))).items():
            result["tosa_int8"][target] = _ladder_entry(*_nll(logits, windows.labels))
            result["agreement_int8_float"][target] = float(
                (logits.argmax(-1) == float_logits.argmax(-1)).float().mean())
        result["tosa_seconds"] = round(time.perf_counter() - start, 1)
        first = next(iter(graphs))   # the first target the NPU runs whole
        result["sample"] = greedy_continuation(float_step, tosa_step(graphs[first], io), tokenizer, cfg, first)
        return result

    step_cfg = {**cfg, "quantize": {**cfg["quantize"], "qat": {"enabled": False}}}   # PTQ: the weights are the LM's

    def store(result, deployed):
        write_decode_step_tables(step, result["quantization"]["io"], build_dir / "decode_step")
        with torch.no_grad():
            outputs = step(*example)
        shapes = {"inputs": [list(x.shape) for x in example], "outputs": [list(y.shape) for y in outputs]}
        deployed["kv_cache"] = {**result["perplexity"], "io": result["quantization"]["io"], "shapes": shapes,
                                "targets": result["targets"]}

    return chain.Program(step, example, calibration, evaluate, example, name="decode_step", cfg=step_cfg,
                            store=store)


def greedy_continuation(step, run, tokenizer: Tokenizer, cfg: dict, target: str) -> dict:
    """A greedy continuation of the first prompt by the int8 decode step `run` (one token per call, the cache
    kept as the app keeps it)."""
    prompt = cfg["generate"]["prompts"][0]
    ids = [BOS] + tokenizer.encode(prompt)
    cache = KVCache(step, 1)
    generated: list[int] = []
    for position in range(len(ids) + cfg["kv_cache"]["new_tokens"] - 1):
        token = ids[position] if position < len(ids) else generated[-1]
        logits, new_k, new_v = run(*cache.inputs(torch.tensor([token])))
        cache.append(new_k, new_v)
        if position >= len(ids) - 1:
            generated.append(int(np.argmax(logits[0, 0].numpy())))
    return {"prompt": prompt, "int8": tokenizer.decode(generated), "new_tokens": len(generated), "target": target}


def window_program(lm, data: TextData, cfg: dict, build_dir: Path, calibration: list[int]):
    """The model's first program, the fixed-window graph: PTQ on the committed calibration windows' embeddings,
    the perplexity ladder on all the validation windows; once lowered, greedy generation by the first target's
    int8 TOSA graph, the int8 embedding table and the tokenizer the app reads."""

    calibration_embeddings = embeddings_of(lm, data.train.inputs[calibration])
    validation = data.validation                       # all of it: the ladder's float and fake-quant figures
    eval_embeddings = embeddings_of(lm, validation.inputs)

    def store(result, deployed):
        result["reference"].update(sample="first test sample", label=validation.labels[0].tolist())
        io = result["quantization"]["io"]
        first_target = next(iter(result["targets"]))
        samples = generation_samples(lm, build_dir / first_target / "model.tosa", io, data.tokenizer, cfg)
        write_embedding_table(lm, io, build_dir / "embedding_int8.bin")
        data.tokenizer.save(build_dir / "tokenizer.model")
        result["generation"] = {"target": first_target, "samples": samples, "greedy": True,
                                "new_tokens": cfg["generate"]["new_tokens"]}
        deployed.update(result)

    return chain.Program(lm, (eval_embeddings[:1],), chain.batches(calibration_embeddings),
                            perplexity_evaluator(cfg, eval_embeddings, validation.labels), (eval_embeddings[:1],),
                            store=store)


def write_embedding_table(lm, io: dict, path: Path) -> Path:
    """The int8 token-embedding table the app copies rows from: (vocab, dim), quantized with the graph's input
    scale and zero point — identical to quantizing the embedded window."""

    return _write_table(quantize(lm.token_embedding.weight.detach(), io["input"]), path)


def _write_table(table: np.ndarray, path: Path) -> Path:
    """An int8 table the app reads, written whole or not at all."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(np.ascontiguousarray(table).tobytes())
    return tmp.replace(path)
