"""The reference firmware apps built for the host against the executorch wheel, run on golden inputs, agree with
Python running the same model on the same input.

What is compared, per model (kws/ds_cnn on real committed Speech Commands clips, vision/resnet8_cifar10 on the
golden synthetic images, one of them resized by the C front end):
  * the app fed the Python-quantized int8 input (`<name>.input.s8`): its int8 output equals, value for value,
    the output ExecuTorch's Python runtime computes for the same portable `.pte` and input (same program, same
    kernels: exact), and its softmax scores equal NumPy's softmax of that output within 1e-5;
  * the app fed the raw device input (int16 PCM / uint8 RGB) through its C front end: the same top-1 as Python
    (Python front end -> quantize -> the same program), and int8 outputs within 2 LSB — the C front end may
    round a few model-input values 1 LSB differently from the float64 Python reference (see
    tests/test_firmware_frontend.py), which moves an output by at most a couple of LSB.
The portable `.pte` is the published int8 program (model_int8.pt2) lowered without the NPU delegate; it is also
checked against the Ethos-U target's reference output (the int8 TOSA graph Vela compiled) on the published
reference input, within the published max LSB difference between the two.

The language-model app (recipes/text/tiny_lm/firmware) is tested on a tiny LM the test trains, quantizes and
publishes into a temporary artifacts root (self-contained): its greedy token ids for the bundled prompt equal
common.text.greedy_generate driven by the same portable program through ExecuTorch's Python runtime, exactly —
with the fixed-window graph and with the KV-cache decode step (common.text.greedy_continuation: the app's ring of
cached keys and values, its rotary rows and its mask are the Python cache's).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO  # noqa: E402

ARTIFACTS = REPO / "zoo" / "artifacts"
MODELS = ("kws/ds_cnn", "vision/resnet8_cifar10", "vision/mobilenet_vww")
ANOMALY = "anomaly/ad_autoencoder.mlperf"   # built as the anomaly/ad_autoencoder recipe's app


def cmake_328() -> str | None:
    """A cmake >= 3.28: the venv's (pip install cmake) first, then PATH."""
    candidates = [Path(sys.executable).parent / "cmake", shutil.which("cmake")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            out = subprocess.run([str(candidate), "--version"], capture_output=True, text=True).stdout
            match = re.search(r"version (\d+)\.(\d+)", out)
            if match and (int(match.group(1)), int(match.group(2))) >= (3, 28):
                return str(candidate)
    return None


CMAKE = cmake_328()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CMAKE is None, reason="the host firmware build needs CMake >= 3.28 for the executorch "
                                             "wheel's imported targets: pip install 'cmake>=3.28'"),
]


def parse_result(stdout: str) -> list[dict]:
    results = []
    for line in stdout.splitlines():
        if line.startswith("result "):
            fields = dict(item.split("=", 1) for item in line.split()[1:])
            fields["scores"] = np.array([float(v) for v in fields["scores"].split(",")])
            fields["output_int8"] = np.array([int(v) for v in fields["output_int8"].split(",")], dtype=np.int8)
            results.append(fields)
    return results


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


@pytest.fixture(scope="module")
def host_build(tmp_path_factory):
    import executorch

    build = tmp_path_factory.mktemp("firmware-host")
    prefix = Path(list(executorch.__path__)[0])
    configure = [CMAKE, "-S", str(REPO / "common" / "firmware"), "-B", str(build),
                 f"-DCMAKE_PREFIX_PATH={prefix}", f"-DPython3_EXECUTABLE={sys.executable}",
                 "-DTZ_APPS=" + ";".join((*MODELS, "anomaly/ad_autoencoder"))]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    for command in (configure, [CMAKE, "--build", str(build), "-j2"]):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return build


@pytest.fixture(scope="module")
def portable(tmp_path_factory):
    from tinyzoo.common.firmware.portable import export_published

    out = tmp_path_factory.mktemp("portable")
    return {model: export_published(ARTIFACTS / model, out / f"{model.replace('/', '_')}.pte") for model in MODELS}


def run_app(build: Path, model: str, pte: Path, *args) -> list[dict]:
    binary = build / model.replace("/", "_")
    done = subprocess.run([str(binary), str(pte), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{binary.name} failed:\n{done.stdout}\n{done.stderr}"
    results = parse_result(done.stdout)
    assert results, f"no result line in:\n{done.stdout}"
    # every app reports what its method took of the method pool (tz::load_and_report)
    memory = re.search(r"^memory method_pool_used=(\d+) planned=(\d+) method_pool=(\d+) temp_pool=\d+$",
                       done.stdout, re.M)
    assert memory, f"no memory line in:\n{done.stdout}"
    used, planned, pool = map(int, memory.groups())
    assert 0 < planned < used <= pool
    return results


def python_output(pte: Path, int8_input: np.ndarray, shape, layout: str = "NCHW") -> np.ndarray:
    """The portable program's int8 output for int8 input bytes in the program's layout (NHWC: interleaved, given
    to the runtime as a channels-last tensor of the logical NCHW shape)."""
    import torch
    from tinyzoo.common.firmware.portable import run_portable

    if layout == "NHWC":
        n, c, h, w = shape
        x = torch.from_numpy(int8_input.reshape(n, h, w, c).copy()).permute(0, 3, 1, 2)
    else:
        x = torch.from_numpy(int8_input.reshape(shape).copy())
    out = run_portable(pte, x)
    assert out.dtype == torch.int8, "the portable program must return the int8 output, as the Ethos-U one does"
    return out.numpy().ravel()


@pytest.mark.parametrize("model", MODELS)
def test_portable_pte_matches_npu_reference(portable, model):
    metrics = json.loads((ARTIFACTS / model / "metrics.json").read_text())
    shape = metrics["model_info"]["input"]["shape"]
    x = np.fromfile(ARTIFACTS / model / "reference_input.bin", dtype=np.int8)
    ours = python_output(portable[model], x, shape, metrics["quantization"]["io"]["input"].get("layout", "NCHW"))
    for target, lsb in metrics["accuracy"]["max_lsb_diff_tosa_fake_quant"].items():
        npu = np.fromfile(ARTIFACTS / model / target / "reference_output.bin", dtype=np.int8)
        assert np.abs(ours.astype(int) - npu.astype(int)).max() <= lsb, (target, ours, npu)


@pytest.mark.parametrize("model", MODELS)
def test_host_app_matches_python(host_build, portable, tmp_path, model):
    from tinyzoo.common.firmware.golden import export_golden

    metrics = json.loads((ARTIFACTS / model / "metrics.json").read_text())
    labels = metrics["labels"]
    shape = metrics["model_info"]["input"]["shape"]
    q = metrics["quantization"]["io"]["output"]
    manifest = json.loads(export_golden(model, tmp_path / "golden").read_text())
    golden = tmp_path / "golden"
    pte = portable[model]
    assert manifest["samples"]
    for sample in manifest["samples"]:
        x = np.fromfile(golden / sample["input"], dtype=np.int8)
        expected = python_output(pte, x, shape, metrics["quantization"]["io"]["input"].get("layout", "NCHW"))
        expected_scores = softmax((expected.astype(np.float32) - q["zero_point"]) * np.float32(q["scale"]))

        # 1. The app on the Python-quantized input: exact int8 output, same scores and top-1.
        (result,) = run_app(host_build, model, pte, golden / sample["input"], "--int8")
        np.testing.assert_array_equal(result["output_int8"], expected, err_msg=sample["name"])
        np.testing.assert_allclose(result["scores"], expected_scores, atol=1e-5, err_msg=sample["name"])
        assert result["top1"] == labels[int(np.argmax(expected_scores))]

        # 2. The app on the raw device input through its own C front end.
        if "pcm" in sample:
            results = run_app(host_build, model, pte, golden / sample["pcm"])
            assert len(results) == 1      # a one-clip input: one window
        else:
            results = run_app(host_build, model, pte, golden / sample["image"], sample["height"], sample["width"])
        result = results[0]
        assert result["top1"] == labels[int(np.argmax(expected_scores))], sample["name"]
        diff = np.abs(result["output_int8"].astype(int) - expected.astype(int)).max()
        assert diff <= 2, f"{sample['name']}: C front end output differs by {diff} LSB"


def test_anomaly_app_scores_windows_as_python_does(host_build, tmp_path):
    """The AD app on float windows of a synthetic clip: the int8 window it quantizes, the reconstruction ExecuTorch
    computes for it and the mean squared error against the float window are Python's (portable program)."""
    import torch
    from tinyzoo.common import anomaly
    from tinyzoo.common.firmware.portable import export_published, run_portable
    from tinyzoo.common.verify import dequantize, quantize

    metrics = json.loads((ARTIFACTS / ANOMALY / "metrics.json").read_text())
    io = metrics["quantization"]["io"]
    pte = export_published(ARTIFACTS / ANOMALY, tmp_path / "ad.pte")
    clips = anomaly.dcase_test_clips(anomaly.write_synthetic_toycar(tmp_path / "clips", train_per_id=0,
                                                                    test_per_id=1, ids=(1,)))
    windows = anomaly.clip_windows(clips.paths[1:])[0][:8]                 # 8 windows of the anomalous clip
    windows.numpy().astype(np.float32).tofile(tmp_path / "windows.f32")
    errors = []
    for window in windows:
        out = run_portable(pte, torch.from_numpy(quantize(window[None], io["input"])))
        errors.append(float(((dequantize(out.numpy(), io["output"]) - window.numpy()) ** 2).mean()))
    binary = host_build / "anomaly_ad_autoencoder"
    done = subprocess.run([str(binary), str(pte), str(tmp_path / "windows.f32")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("result "))
    fields = dict(item.split("=", 1) for item in line.split()[1:])
    assert int(fields["windows"]) == 8
    np.testing.assert_allclose([float(e) for e in fields["errors"].split(",")], errors, rtol=1e-4)
    assert float(fields["score"]) == pytest.approx(np.mean(errors), rel=1e-4)
    last = run_portable(pte, torch.from_numpy(quantize(windows[-1:], io["input"]))).numpy().ravel()
    np.testing.assert_array_equal([int(v) for v in fields["output_int8"].split(",")], last)


# --- the language-model app (recipes/text/tiny_lm/firmware) ---------------------------------------------------

LM_ARGS = {"vocab_size": 400, "dim": 32, "depth": 1, "heads": 2, "hidden": 64, "context": 16}
LM_PROMPT, LM_NEW_TOKENS = "Once upon a time, Lily", 12   # 7 prompt tokens + 12 > 16: the window slides


@pytest.fixture(scope="module")
def tiny_lm_artifacts(tmp_path_factory):
    """A tiny text/tiny_lm published the way the recipe publishes it (metrics.json with the resolved config,
    tokenizer.model, embedding_int8.bin, model_int8.pt2), trained for a few seconds on generated stories so that
    it writes text, PTQ int8, and its portable int8 .pte; its KV-cache decode step likewise (decode_step/: the
    fake-quant program, the app's embedding and rotary tables, metrics' kv_cache io and shapes) and its portable
    .pte. Returns (artifacts root, model folder, .pte, quantized model, decode-step .pte, float model)."""
    import torch
    from tinyzoo.common import text
    from tinyzoo.common.chain import io_params, save_fake_quant
    from tinyzoo.common.firmware.portable import export_published
    from tinyzoo.common.quantize import io_quant_params, quantize_ptq
    from tinyzoo.common.tokenizer import train_tokenizer
    from tinyzoo.recipes.text.tiny_lm.model import tiny_lm

    from tests.test_text import make_stories

    root = tmp_path_factory.mktemp("lm_artifacts")
    folder = root / "text" / "tiny_lm"
    folder.mkdir(parents=True)
    stories = make_stories(200)
    tokenizer = train_tokenizer(stories, {"type": "sentencepiece_bpe", "vocab_size": LM_ARGS["vocab_size"]})
    context = LM_ARGS["context"]
    windows = text.TokenWindows.from_stream(text.token_stream(stories, tokenizer), context, "train", {})
    torch.manual_seed(0)
    lm = tiny_lm(**LM_ARGS)
    optimizer = torch.optim.Adam(lm.parameters(), lr=1e-2)
    for step in range(150):
        start = (step * 16) % (len(windows) - 16)
        x, y = windows.batch(list(range(start, start + 16)))
        loss = torch.nn.functional.cross_entropy(text.next_token_logits(lm, x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    lm.eval()
    embeddings = text.embeddings_of(lm, windows.inputs[:32])
    quantized = quantize_ptq(lm, (embeddings[:1],), [embeddings[:16], embeddings[16:]], target="ethos-u85-256")
    io = io_quant_params(quantized)
    text.write_embedding_table(lm, io, folder / "embedding_int8.bin")
    tokenizer.save(folder / "tokenizer.model")
    metrics = {"model": "text/tiny_lm", "quantization": {"io": io},
               "model_info": {"input": {"shape": [1, context, LM_ARGS["dim"]], "dtype": "int8"},
                              "output": {"shape": [1, context, LM_ARGS["vocab_size"]], "dtype": "int8"}},
               "config": {"card": {"task": "text-generation"}, "model": {"name": "text/tiny_lm", "args": LM_ARGS},
                          "tokenizer": {"type": "sentencepiece_bpe", "vocab_size": LM_ARGS["vocab_size"]},
                          "generate": {"prompts": [LM_PROMPT], "new_tokens": LM_NEW_TOKENS}}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    # published as the recipe publishes it (model_int8.pt2), and the portable .pte made from that the way
    # `python -m tinyzoo.common.firmware.portable zoo/artifacts/text/tiny_lm out.pte` makes it
    save_fake_quant(quantized, (embeddings[:1],), folder / "model_int8.pt2")
    pte = export_published(folder, root / "tiny_lm_portable.pte")

    step = lm.decode_step().eval()
    samples: list = []
    text.kv_decode(step, windows.inputs[:4], keep=samples)
    example = tuple(x[:1] for x in samples[-1])
    step_quantized = quantize_ptq(step, example, samples[::2], target="ethos-u85-256")
    step_io = io_params(step_quantized)
    (folder / "decode_step").mkdir()
    save_fake_quant(step_quantized, example, folder / "decode_step" / "model_int8.pt2")
    text.write_decode_step_tables(step, step_io, folder / "decode_step", positions=40)
    with torch.no_grad():
        outputs = step(*example)
    metrics["kv_cache"] = {"io": step_io, "shapes": {"inputs": [list(x.shape) for x in example],
                                                     "outputs": [list(y.shape) for y in outputs]}}
    metrics["config"]["kv_cache"] = {"enabled": True, "new_tokens": LM_NEW_TOKENS}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    step_pte = export_published(folder, root / "tiny_lm_step_portable.pte", "decode_step")
    return root, folder, pte, quantized, step_pte, lm


@pytest.fixture(scope="module")
def lm_host_build(tmp_path_factory, tiny_lm_artifacts):
    import executorch

    root = tiny_lm_artifacts[0]
    build = tmp_path_factory.mktemp("firmware-host-lm")
    configure = [CMAKE, "-S", str(REPO / "common" / "firmware"), "-B", str(build),
                 f"-DCMAKE_PREFIX_PATH={Path(list(executorch.__path__)[0])}", f"-DPython3_EXECUTABLE={sys.executable}",
                 "-DTZ_APPS=text/tiny_lm", f"-DTZ_ARTIFACTS_ROOT={root}"]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    for command in (configure, [CMAKE, "--build", str(build), "-j2"]):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return build


def python_lm_logits(pte: Path, quantized, table: np.ndarray, io: dict):
    """next_logits(window) for common.text.greedy_generate: the portable program through ExecuTorch's Python
    runtime (the host app's kernels), or, where the runtime cannot be imported, the fake-quant model on the
    dequantized table rows, its output quantized (then ties could differ in rare cases)."""
    import torch

    try:
        from tinyzoo.common.firmware.portable import _register_quantized_ops

        _register_quantized_ops()
        from executorch.runtime import Runtime
    except ImportError:
        from tinyzoo.common.verify import dequantize, quantize

        def fake_quant(window):
            x = torch.from_numpy(dequantize(table[window.numpy()][None], io["input"]).astype(np.float32))
            with torch.no_grad():
                return quantize(quantized(x), io["output"])[0]
        return fake_quant, "fake-quant model (executorch.runtime not importable)"
    method = Runtime.get().load_program(str(pte)).load_method("forward")

    def portable(window):
        out = method.execute([torch.from_numpy(table[window.numpy()][None].copy())])[0]
        assert out.dtype == torch.int8
        return out[0].numpy()
    return portable, "ExecuTorch Python runtime, same portable .pte"


def test_language_model_app_generates_python_s_tokens(lm_host_build, tiny_lm_artifacts):
    """The LM app's greedy ids equal common.text.greedy_generate driven by the same int8 program in Python, for
    the bundled prompt (tokenized at header-generation time), past the point where the window slides; its text,
    decoded with the generated piece table, is SentencePiece's decode of the same ids."""
    from tinyzoo.common import text
    from tinyzoo.common.tokenizer import BOS, Tokenizer

    _, folder, pte, quantized, _, _ = tiny_lm_artifacts
    metrics = json.loads((folder / "metrics.json").read_text())
    done = subprocess.run([str(lm_host_build / "text_tiny_lm"), str(pte), str(folder / "embedding_int8.bin")],
                          capture_output=True, timeout=120)
    stdout = done.stdout.decode("utf-8", errors="replace")
    assert done.returncode == 0, f"text_tiny_lm failed:\n{stdout}\n{done.stderr.decode(errors='replace')}"
    assert "program=window" in stdout
    (line,) = [l for l in stdout.splitlines() if l.startswith("result ")]
    result = dict(item.split("=", 1) for item in line.split()[1:])
    prompt_ids = [int(v) for v in result["prompt_ids"].split(",")]
    ids = [int(v) for v in result["ids"].split(",")]

    tokenizer = Tokenizer.load(folder / "tokenizer.model")
    assert prompt_ids == [BOS] + tokenizer.encode(LM_PROMPT)
    assert len(ids) == LM_NEW_TOKENS and len(prompt_ids) + LM_NEW_TOKENS > LM_ARGS["context"]
    table = np.fromfile(folder / "embedding_int8.bin", dtype=np.int8).reshape(LM_ARGS["vocab_size"], LM_ARGS["dim"])
    next_logits, how = python_lm_logits(pte, quantized, table, metrics["quantization"]["io"])
    expected = text.greedy_generate(next_logits, prompt_ids, LM_NEW_TOKENS, LM_ARGS["context"])
    assert ids == expected, f"app {ids} != Python ({how}) {expected}"

    text_line = next(l for l in done.stdout.split(b"\n") if l.startswith(b"text="))[len(b"text="):]
    assert text_line.decode("utf-8") == tokenizer.decode(prompt_ids + ids)
    assert int(result["time_us_per_token"]) > 0
    assert len([l for l in stdout.splitlines() if l.startswith("token ")]) == LM_NEW_TOKENS
    # a bad table is refused with a message that says what is expected
    bad = subprocess.run([str(lm_host_build / "text_tiny_lm"), str(pte), str(pte)], capture_output=True, text=True)
    assert bad.returncode != 0 and "embedding table" in bad.stdout


def portable_step(pte: Path, io: dict):
    """The decode step's portable program through ExecuTorch's Python runtime as common.text.tosa_step runs the
    TOSA graph: float inputs quantized with the step's scales, int8 outputs dequantized."""
    import torch
    from tinyzoo.common.firmware.portable import _register_quantized_ops
    from tinyzoo.common.verify import dequantize, quantize

    _register_quantized_ops()
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(pte)).load_method("forward")

    def run(*inputs):
        outputs = method.execute([torch.from_numpy(quantize(x, q)) for x, q in zip(inputs, io["inputs"])])
        return tuple(torch.from_numpy(dequantize(o.numpy(), q)) for o, q in zip(outputs, io["outputs"]))
    return run


def run_lm_app(app: Path, *args, timeout=300) -> tuple[dict, str]:
    """The LM app's result line as a dict, and its whole output."""
    done = subprocess.run([str(app), *map(str, args)], capture_output=True, timeout=timeout)
    stdout = done.stdout.decode("utf-8", errors="replace")
    assert done.returncode == 0, f"{app.name} failed:\n{stdout[-3000:]}\n{done.stderr.decode(errors='replace')}"
    (line,) = [l for l in stdout.splitlines() if l.startswith("result ")]
    return dict(item.split("=", 1) for item in line.split()[1:]), stdout


def test_language_model_app_decodes_with_the_kv_cache_as_python_does(lm_host_build, tiny_lm_artifacts):
    """Given the decode step's program, the LM app generates with its KV cache (one inference per token, a ring of
    cached int8 keys and values): the same ids as common.text.greedy_continuation — the chain's int8 sample of
    the decode step — driven by the same portable program, past the point where the ring wraps; the window
    graph's table or any other is refused by the table's name, as too many tokens for the rotary rows are."""
    from tinyzoo.common import text
    from tinyzoo.common.tokenizer import Tokenizer

    _, folder, _, _, step_pte, lm = tiny_lm_artifacts
    metrics = json.loads((folder / "metrics.json").read_text())
    result, stdout = run_lm_app(lm_host_build / "text_tiny_lm", step_pte, folder / "decode_step" / "embedding_int8.bin")
    assert "program=decode_step" in stdout
    ids = [int(v) for v in result["ids"].split(",")]
    prompt_ids = [int(v) for v in result["prompt_ids"].split(",")]
    assert len(ids) == LM_NEW_TOKENS and len(prompt_ids) + LM_NEW_TOKENS - 1 > LM_ARGS["context"] - 1   # wraps

    tokenizer = Tokenizer.load(folder / "tokenizer.model")
    expected = text.greedy_continuation(lm.decode_step().eval(), portable_step(step_pte, metrics["kv_cache"]["io"]),
                                        tokenizer, metrics["config"], "host")
    assert tokenizer.decode(ids) == expected["int8"], f"app {tokenizer.decode(ids)!r} != Python {expected['int8']!r}"
    assert len([l for l in stdout.splitlines() if l.startswith("token ")]) == LM_NEW_TOKENS

    other = bytearray((folder / "decode_step" / "embedding_int8.bin").read_bytes())   # another table of the size
    other[5] = (other[5] + 1) % 256
    (folder.parent / "other_table.bin").write_bytes(bytes(other))
    wrong = subprocess.run([str(lm_host_build / "text_tiny_lm"), str(step_pte), str(folder.parent / "other_table.bin")],
                           capture_output=True, text=True)
    assert wrong.returncode != 0 and "decode_step/embedding_int8.bin" in wrong.stdout
    too_many = subprocess.run([str(lm_host_build / "text_tiny_lm"), str(step_pte),
                               str(folder / "decode_step" / "embedding_int8.bin"), "200"],
                              capture_output=True, text=True)
    assert too_many.returncode != 0 and "rotary rows" in too_many.stdout


def test_published_language_model_app_writes_the_card_s_int8_sample(tmp_path):
    """The published text/tiny_lm through the host app (portable int8 program, the app's embedding-row copy and
    greedy loop) continues the card's first prompt exactly as the card's int8 sample, which the TOSA graph of
    the NPU program produced: the app, the portable program and the NPU graph agree token for token. With the
    KV-cache decode step, the app equals Python on the same portable program token for token."""
    import executorch
    from tinyzoo.common.firmware.portable import export_published

    folder = ARTIFACTS / "text" / "tiny_lm"
    if not (folder / "metrics.json").exists():
        pytest.skip("text/tiny_lm is not published")
    metrics = json.loads((folder / "metrics.json").read_text())
    sample = metrics["generation"]["samples"][0]
    build = tmp_path / "build"
    for command in ([CMAKE, "-S", str(REPO / "common" / "firmware"), "-B", str(build),
                     f"-DCMAKE_PREFIX_PATH={Path(list(executorch.__path__)[0])}",
                     f"-DPython3_EXECUTABLE={sys.executable}", "-DTZ_APPS=text/tiny_lm"],
                    [CMAKE, "--build", str(build), "-j2"]):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    pte = export_published(folder, tmp_path / "tiny_lm_portable.pte")
    done = subprocess.run([str(build / "text_tiny_lm"), str(pte), str(folder / "embedding_int8.bin"),
                           str(sample["new_tokens"])], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]
    text_line = next(l for l in done.stdout.split(b"\n") if l.startswith(b"text=")).decode("utf-8")
    assert text_line == f"text={sample['prompt']} {sample['int8']}"
    # the decode step: the app's KV cache continues the prompt exactly as greedy_continuation on the same portable
    # program, and as the decode step's TOSA graph did (the card's sample) until a near tie between two logits,
    # which the float arithmetic between the portable program's quantize/dequantize pairs and the integer graph
    # break differently (the test asks for the first 8 words)
    import tinyzoo
    from tinyzoo.common import text
    from tinyzoo.common.tokenizer import Tokenizer

    kv = metrics["kv_cache"]
    assert kv["sample"]["prompt"] == sample["prompt"]
    step_pte = export_published(folder, tmp_path / "tiny_lm_step_portable.pte", "decode_step")
    _, stdout = run_lm_app(build / "text_tiny_lm", step_pte, folder / "decode_step" / "embedding_int8.bin",
                           kv["sample"]["new_tokens"])
    assert "program=decode_step" in stdout
    app_text = next(l for l in stdout.splitlines() if l.startswith("text="))[len("text="):]
    expected = text.greedy_continuation(tinyzoo.load("text/tiny_lm").decode_step().eval(),
                                        portable_step(step_pte, kv["io"]), Tokenizer.load(folder / "tokenizer.model"),
                                        metrics["config"], "host")
    assert app_text == f"{sample['prompt']} {expected['int8']}"
    words = [a == b for a, b in zip(expected["int8"].split(), kv["sample"]["int8"].split())]
    assert (words + [False]).index(False) >= 8, (expected["int8"], kv["sample"]["int8"])
