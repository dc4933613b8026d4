"""The language-model chain (common/text.py, common/tokenizer.py, common/data/tinystories.py, recipes/text/tiny_lm)
on small texts the tests write: TinyStories file formats, the tokenizer, token windows, the causal model, greedy
fixed-window generation, and a tiny LM on the quantize → lower → TOSA-reference path for U55 and U85."""
import random

import numpy as np
import pytest
import torch
from tinyzoo.common import text
from tinyzoo.common.data import tinystories
from tinyzoo.common.errors import ConfigError, DatasetNotFoundError
from tinyzoo.common.lower import lower_ethos_u
from tinyzoo.common.quantize import io_quant_params, quantize_ptq
from tinyzoo.common.tokenizer import Tokenizer, train_tokenizer
from tinyzoo.recipes.text.tiny_lm.model import tiny_lm

NAMES = ["Lily", "Tom", "Sam", "Mia", "Ben", "Anna", "Max", "Zoe"]
THINGS = ["ball", "kite", "cat", "dog", "box", "tree", "car", "cake", "book", "hat", "boat", "bird"]
FEELINGS = ["happy", "sad", "scared", "excited", "tired", "proud"]


def make_stories(count: int, seed: int = 0) -> list[str]:
    """Simple stories in TinyStories' style, varied enough for a BPE vocabulary of a few hundred pieces."""
    rng = random.Random(seed)
    stories = []
    for _ in range(count):
        a, b = rng.sample(NAMES, 2)
        thing, feeling = rng.choice(THINGS), rng.choice(FEELINGS)
        stories.append(f"Once upon a time, {a} found a {thing}. {a} was very {feeling}. "
                       f"{a} said, \"{b}, look at my {thing}!\" {b} smiled and they played with the {thing} "
                       f"all day. The end.")
    return stories


def write_tinystories(root, train: int = 120, validation: int = 30):
    root.mkdir(parents=True, exist_ok=True)
    (root / "TinyStories-train.txt").write_text("\n<|endoftext|>\n".join(make_stories(train, 0)) + "\n")
    (root / "TinyStories-valid.subset.txt").write_text("\n\n".join(make_stories(validation, 1)) + "\n")
    return root


def test_release_formats_and_missing_data(tmp_path):
    root = write_tinystories(tmp_path / "data")
    train, validation = tinystories.load(root, "train"), tinystories.load(root, "validation")
    assert len(train) == 120 and len(validation) == 30         # <|endoftext|>- and blank-line-separated
    assert train.stories[0].startswith("Once upon a time") and "<|endoftext|>" not in " ".join(train.stories)
    assert train.head(10).summary()["stories"] == 10
    with pytest.raises(DatasetNotFoundError, match="tinyzoo data tinystories --download"):
        tinystories.load(tmp_path / "nowhere", "train")


def test_tokenizer_round_trips_any_text_and_rejects_a_too_small_vocabulary(tmp_path):
    tok = train_tokenizer(make_stories(200), {"type": "sentencepiece_bpe", "vocab_size": 400})
    assert tok.vocab_size == 400
    for sample in ["Once upon a time, Lily found a kite.", "Zürich € naïve 🙂"]:   # unseen characters: byte fallback
        ids = tok.encode(sample)
        assert tok.decode(ids) == sample and 0 not in ids                      # no unknown token
    assert len(tok.encode("Once upon a time")) <= 6                              # merges learnt from the text
    again = Tokenizer.load(tok.save(tmp_path / "tokenizer.model"))
    assert again.encode("Tom smiled") == tok.encode("Tom smiled")
    with pytest.raises(ConfigError, match="vocab_size 100"):
        train_tokenizer(make_stories(50), {"type": "sentencepiece_bpe", "vocab_size": 100})


def test_token_windows_shift_by_one():
    stream = torch.arange(23)
    windows = text.TokenWindows.from_stream(stream, 5, "train", {})
    assert len(windows) == 4                                        # (23 - 1) // 5
    x, y = windows.batch([1])
    assert x.tolist() == [[5, 6, 7, 8, 9]] and y.tolist() == [[6, 7, 8, 9, 10]]
    assert windows.ids[1] == "train:000001" and windows.summary()["tokens"] == 20
    with pytest.raises(ConfigError, match="fewer than one window"):
        text.TokenWindows.from_stream(torch.arange(4), 5, "validation", {})


def test_future_tokens_cannot_leak_even_with_large_scores():
    """A finite mask alone leaks (training learns scores that look past it); capped scores and a set mask
    value do not, whatever the weights."""
    torch.manual_seed(0)
    lm = tiny_lm(vocab_size=64, dim=32, depth=2, heads=2, hidden=64, context=16).eval()
    for name, p in lm.named_parameters():
        if ".wq." in name or ".wk." in name:
            p.data *= 100
    x = torch.randint(0, 64, (4, 16))
    changed = x.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % 64
    with torch.no_grad():
        a, b = lm.tokens_to_logits(x), lm.tokens_to_logits(changed)
    assert (a[:, :8] - b[:, :8]).abs().max() < 1e-4
    assert (a[:, 8:] - b[:, 8:]).abs().max() > 1e-2
    with pytest.raises(ValueError, match="mask_value"):
        tiny_lm(vocab_size=64, dim=32, depth=1, heads=2, hidden=64, context=16, score_cap=8.0, mask_value=-16.0)


def test_ladder_covers_every_window_and_each_half_and_runs_tosa_on_windows_spread_over_them():
    """Float and fake-quant on every window (their NLL adds up over the halves); the TOSA windows are spread
    over the whole text, not its first windows."""
    assert text.spread(4, 10) == [0, 3, 6, 9] and text.spread(12, 10) == list(range(10))
    torch.manual_seed(0)
    lm = tiny_lm(vocab_size=64, dim=16, depth=1, heads=2, hidden=32, context=8).eval()
    tokens = torch.randint(0, 64, (11, 9))
    result = text.compare_perplexity(lm, lm, text.embeddings_of(lm, tokens[:, :-1]), tokens[:, 1:], {}, {}, 4)
    assert result["windows"] == 11 and result["tokens"] == 88
    first, second = result["halves"]
    assert (first["windows"], second["windows"]) == (5, 6)
    nll = lambda e, n: e["nll_per_token"] * n   # noqa: E731
    assert nll(first["float"], 40) + nll(second["float"], 48) == pytest.approx(nll(result["float"], 88))
    assert result["tosa_windows"]["windows"] == 4 and result["tosa_windows"]["spread_over"] == 11
    with torch.no_grad():
        logits = lm.tokens_to_logits(tokens[[0, 3, 7, 10], :-1])
    expected = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tokens[[0, 3, 7, 10], 1:])
    assert result["tosa_windows"]["float"]["nll_per_token"] == pytest.approx(float(expected), rel=1e-5)


def test_a_language_model_evaluates_a_text_file_but_never_trains_on_one(tmp_path):
    root = write_tinystories(tmp_path / "data")
    own = tmp_path / "mine.txt"
    own.write_text((root / "TinyStories-valid.subset.txt").read_text())
    assert len(tinystories.load(own, "validation")) == len(tinystories.load(root, "validation"))
    with pytest.raises(DatasetNotFoundError, match=r"mine.txt is a file: a build needs the folder"):
        tinystories.load(own, "train")


def test_greedy_generation_reads_the_last_prompt_position_and_slides():
    context, seen = 4, []

    def next_logits(window):                 # predicts (token at the read position) + 1
        seen.append(window.tolist())
        logits = np.zeros((context, 10))
        for i, t in enumerate(window.tolist()):
            logits[i, (t + 1) % 10] = 1
        return logits

    assert text.greedy_generate(next_logits, [1, 2], 4, context) == [3, 4, 5, 6]
    assert seen[0] == [1, 2, 0, 0] and seen[2] == [1, 2, 3, 4] and seen[3] == [2, 3, 4, 5]


@pytest.mark.lowering
@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u85-256"])
def test_tiny_lm_lowers_fully_and_the_integer_graph_matches_fake_quant(target, tmp_path):
    torch.manual_seed(0)
    lm = tiny_lm(vocab_size=96, dim=32, depth=1, heads=2, hidden=64, context=16).eval()
    tokens = torch.randint(0, 96, (40, 17))
    embeddings = text.embeddings_of(lm, tokens[:, :-1])
    q = quantize_ptq(lm, (embeddings[:1],), [embeddings[:16], embeddings[16:32]], target=target)
    low = lower_ethos_u(q, (embeddings[:1],), target, tmp_path / target)
    assert low.cpu_ops == 0 and low.partitions == 1
    io = io_quant_params(q)
    result = text.compare_perplexity(lm, q, embeddings[32:], tokens[32:, 1:], {target: low.tosa_path}, io, 8)
    assert result["tokens"] == result["tosa_windows"]["tokens"] == 8 * 16
    assert result["max_lsb_diff_tosa_fake_quant"][target] <= 4
    assert result["agreement_tosa_fake_quant"][target] >= 0.9
    ppl = result["tosa_int8"][target]["perplexity"]
    assert abs(ppl / result["tosa_windows"]["float"]["perplexity"] - 1) < 0.05
    # the app's int8 embedding table gives the same int8 input as quantizing the embedded window
    table = np.fromfile(text.write_embedding_table(lm, io, tmp_path / "embedding_int8.bin"), dtype=np.int8)
    table = table.reshape(96, 32)
    from tinyzoo.common.verify import quantize
    np.testing.assert_array_equal(table[tokens[32, :-1].numpy()], quantize(embeddings[32], io["input"]))


@pytest.mark.slow
def test_quick_build_on_a_small_corpus(tmp_path, capsys):
    """`tinyzoo build text/tiny_lm --profile quick` on a corpus the test writes, then `tinyzoo eval` on it."""
    import json

    from tinyzoo import cli

    root = write_tinystories(tmp_path / "data", train=300, validation=40)   # the quick profile reads 40
    build = tmp_path / "build"
    assert cli.main(["build", "text/tiny_lm", "--profile", "quick", "--data-root", str(root),
                     "--build-dir", str(build), "--set", "generate.new_tokens=3"]) == 0
    m = json.loads((build / "metrics.json").read_text())
    r = m["targets"]["ethos-u85-256"]
    assert r["cpu_ops"] == 0 and r["cycles"] > 0
    ppl = m["perplexity"]
    assert ppl["tosa_windows"]["tokens"] == 8 * 32 and len(m["generation"]["samples"]) == 3
    assert ppl["windows"] == ppl["tosa_windows"]["spread_over"] > 8         # float and fake-quant on all of them
    assert sum(h["windows"] for h in ppl["halves"]) == ppl["windows"]
    assert all(s["new_tokens"] == 3 for s in m["generation"]["samples"])
    for name in ("tokenizer.model", "embedding_int8.bin", "reference_input.bin", "ethos-u85-256/reference_output.bin"):
        assert (build / name).stat().st_size > 0
    # the decode step, the model's second program, through the same chain: its own .pte and BundleIO program
    kv = m["kv_cache"]
    assert kv["targets"]["ethos-u85-256"]["cpu_ops"] == 0 and kv["sample"]["new_tokens"] == 2
    assert ((len(kv["io"]["inputs"]), len(kv["io"]["outputs"])) == (6, 3)
            and kv["tosa_int8"]["ethos-u85-256"]["perplexity"] > 1)
    for name in ("model.pte", "model.bpte", "reference_output_0.bin"):
        assert (build / "ethos-u85-256" / "decode_step" / name).stat().st_size > 0
    assert (build / "model_int8.pt2").is_file() and (build / "decode_step" / "model_int8.pt2").is_file()
    from executorch.devtools.bundled_program.serialize import (
        deserialize_from_flatbuffer_to_bundled_program,
    )
    step_dir = build / "ethos-u85-256" / "decode_step"
    bundle = deserialize_from_flatbuffer_to_bundled_program((step_dir / "model.bpte").read_bytes())
    (case,) = bundle.method_test_suites[0].test_cases
    assert bytes(bundle.program) == (step_dir / "model.pte").read_bytes()
    assert (len(case.inputs), len(case.expected_outputs)) == (6, 3)
    assert bytes(case.inputs[3].val.data) == (build / "decode_step" / "reference_input_3.bin").read_bytes()
    assert bytes(case.expected_outputs[0].val.data) == (step_dir / "reference_output_0.bin").read_bytes()
    card = (build / "card" / "text__tiny_lm.md").read_text()
    assert "Generated samples (int8 graph, greedy)" in card and f"{r['cycles']:,}" in card
    capsys.readouterr()
    assert cli.main(["eval", "text/tiny_lm", "--artifacts", str(build), "--data-root", str(root), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tosa_int8"]["ethos-u85-256"]["perplexity"] == pytest.approx(
        m["perplexity"]["tosa_int8"]["ethos-u85-256"]["perplexity"])
    # a user's own text file, evaluated whole
    own = tmp_path / "own.txt"
    own.write_text((root / "TinyStories-valid.subset.txt").read_text() * 2)
    assert cli.main(["eval", "text/tiny_lm", "--artifacts", str(build), "--data-root", str(own), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["text"]["file"] == "own.txt" and result["windows"] >= 2 * ppl["windows"] - 1
    # export re-lowers every program of the folder, the decode step too, with its BundleIO check
    out = tmp_path / "export"
    assert cli.main(["export", "text/tiny_lm", "--artifacts", str(build), "--target", "ethos-u85-256",
                     "--out", str(out)]) == 0
    assert "ethos-u85-256 decode_step:" in capsys.readouterr().out
    for name in ("model.bpte", "reference_output_0.bin", "reference_output_2.bin"):
        assert (out / "ethos-u85-256" / "decode_step" / name).read_bytes() == (step_dir / name).read_bytes()


def test_download_fetches_the_release_files_through_huggingface_hub(tmp_path, monkeypatch):
    """The real download path, offline: huggingface_hub's hf_hub_download is asked for the dataset repo's release
    files, and the copies land whole under the data root (nothing partial left)."""
    import huggingface_hub

    hub_cache, calls = write_tinystories(tmp_path / "hub"), []
    (hub_cache / "TinyStories-valid.txt").write_text((hub_cache / "TinyStories-valid.subset.txt").read_text())

    def fake_download(repo_id, filename, repo_type=None, **kwargs):
        calls.append((repo_id, filename, repo_type))
        return str(hub_cache / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    root = tmp_path / "data"
    paths = tinystories.download(root)
    assert calls == [("roneneldan/TinyStories", "TinyStories-train.txt", "dataset"),
                     ("roneneldan/TinyStories", "TinyStories-valid.txt", "dataset")]
    assert [p.name for p in paths] == ["TinyStories-train.txt", "TinyStories-valid.txt"]
    assert not list(root.glob("*.part")) and len(tinystories.load(root, "validation")) == 30


def test_decode_step_computes_the_fixed_window_inside_the_window():
    """The KV-cache decode step (one token per inference, a ring of context - 1 cached keys/values per layer)
    gives, token by token, the logits the fixed-window graph gives at every position of a window."""
    torch.manual_seed(0)
    lm = tiny_lm(vocab_size=64, dim=32, depth=2, heads=2, hidden=64, context=8).eval()
    tokens = torch.randint(0, 64, (3, 8))
    with torch.no_grad():
        window = lm.tokens_to_logits(tokens)
    stepped = text.kv_decode(lm.decode_step().eval(), tokens)
    assert (window - stepped).abs().max() < 1e-4


def test_the_decode_step_tables_are_what_the_cache_feeds_the_step(tmp_path):
    """The app's tables for the decode step (token embeddings at the step's input scale, the rotary rows of every
    position) are, row for row, the int8 inputs `KVCache.inputs` gives the step."""
    from tinyzoo.common.verify import quantize

    torch.manual_seed(0)
    lm = tiny_lm(vocab_size=50, dim=16, depth=1, heads=2, hidden=32, context=8).eval()
    step = lm.decode_step().eval()

    def q(scale, zero_point):
        return {"scale": scale, "zero_point": zero_point, "qmin": -128, "qmax": 127, "dtype": "int8"}
    io = {"inputs": [q(0.011, 3), q(1 / 127, 0), q(1 / 120, 1), q(0.1, 0), q(0.1, 0), q(1 / 255, -128)]}
    embedding, rotary = text.write_decode_step_tables(step, io, tmp_path, positions=20)
    embedding = np.fromfile(embedding, dtype=np.int8).reshape(50, 16)
    rotary = np.fromfile(rotary, dtype=np.int8).reshape(20, 2, 8)
    cache = text.KVCache(step, 1)
    for position in range(20):
        token = (7 * position) % 50
        x, cos, sin, *_ = cache.inputs(torch.tensor([token]))
        np.testing.assert_array_equal(embedding[token], quantize(x[0, 0], io["inputs"][0]))
        np.testing.assert_array_equal(rotary[position, 0], quantize(cos[0, 0], io["inputs"][1]))
        np.testing.assert_array_equal(rotary[position, 1], quantize(sin[0, 0], io["inputs"][2]))
        cache.position += 1
    assert len(set(map(bytes, rotary[:, 1]))) == 20   # a row per position


@pytest.mark.lowering
def test_tiny_decode_step_lowers_fully_and_decodes_like_fake_quant_on_the_tosa_reference(tmp_path):
    from tinyzoo.common.quantize import all_io_quant_params

    torch.manual_seed(0)
    lm = tiny_lm(vocab_size=96, dim=32, depth=1, heads=2, hidden=64, context=8).eval()
    step = lm.decode_step().eval()
    samples = []
    text.kv_decode(step, torch.randint(0, 96, (6, 8)), keep=samples)
    example = tuple(x[:1] for x in samples[-1])
    q = quantize_ptq(step, example, samples, target="ethos-u85-256")
    low = lower_ethos_u(q, example, "ethos-u85-256", tmp_path / "decode_step")
    assert low.cpu_ops == 0 and low.partitions == 1
    io = all_io_quant_params(q)
    assert len(io["inputs"]) == 6 and len(io["outputs"]) == 3
    tokens = torch.randint(0, 96, (2, 8))               # two rows: the batch-1 graph runs once per row
    fake = torch.cat([text.kv_decode(step, tokens[i:i + 1], run=q) for i in range(2)])   # the static batch-1 program
    tosa = text.kv_decode(step, tokens, run=text.tosa_step(low.tosa_path, io))
    assert (fake.argmax(-1) == tosa.argmax(-1)).float().mean() >= 0.85
    assert (fake - tosa).abs().max() <= 8 * io["outputs"][0]["scale"]
