"""The firmware's own sources (common/firmware/runtime, the app main.cpp files including the language model's, the
C front ends) compile for
Cortex-M55 and Cortex-M85 with arm-none-eabi-gcc against the ExecuTorch headers of the installed wheel, for every
board. Compile only (-c): linking needs ExecuTorch built for Cortex-M, which the documented device build fetches
(common/firmware/README.md). The Ethos-U driver is not here either: its two headers are replaced by the
declarations in common/firmware/runtime/compile_check/include (same signatures as ethos-u-core-driver)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO  # noqa: E402

FIRMWARE = REPO / "common" / "firmware"
RUNTIME = FIRMWARE / "runtime"
GCC = shutil.which("arm-none-eabi-gcc")
GXX = shutil.which("arm-none-eabi-g++")
pytestmark = pytest.mark.skipif(GXX is None, reason="arm-none-eabi-g++ is not installed "
                                                   "(apt-get install gcc-arm-none-eabi)")

BOARD_SOURCES = {
    "TZ_BOARD_CORSTONE300": ["board_corstone.cpp"],
    "TZ_BOARD_CORSTONE320": ["board_corstone.cpp"],
    "TZ_BOARD_ALIF_E7": ["board_alif.cpp"],
    "TZ_BOARD_ALIF_E8": ["board_alif.cpp"],
}
NPU = {"TZ_BOARD_CORSTONE300": "ETHOSU55", "TZ_BOARD_CORSTONE320": "ETHOSU85", "TZ_BOARD_ALIF_E7": "ETHOSU55",
       "TZ_BOARD_ALIF_E8": "ETHOSU85"}
APPS = {"kws/ds_cnn": REPO / "common/firmware/apps/keyword_spotting.cpp",
        "vision/resnet8_cifar10": REPO / "common/firmware/apps/image_classification.cpp"}


def executorch_include() -> list[str]:
    import executorch

    root = Path(list(executorch.__path__)[0]) / "include"
    return [f"-I{root}", f"-I{root / 'executorch/runtime/core/portable_type/c10'}"]


def cpu_flags(cpu: str) -> list[str]:
    """-mcpu=<cpu>, or for a GCC older than 13 (Debian 12's 12.2) that does not know cortex-m85, the M85's
    architecture with the same extensions as an M55 plus the double-precision FPU (no PACBTI in GCC 12)."""
    probe = subprocess.run([GCC, f"-mcpu={cpu}", "-mthumb", "-E", "-x", "c", "/dev/null", "-o", "/dev/null"],
                           capture_output=True)
    if probe.returncode == 0:
        return [f"-mcpu={cpu}"]
    assert cpu == "cortex-m85", f"{GCC} does not know -mcpu={cpu}"
    return ["-march=armv8.1-m.main+mve.fp+fp.dp"]


def compile_one(source: Path, cpu: str, defines: list[str], includes: list[str], out: Path) -> None:
    compiler = GXX if source.suffix == ".cpp" else GCC
    std = ["-std=c++17", "-fno-exceptions", "-fno-rtti"] if source.suffix == ".cpp" else ["-std=c99"]
    command = [compiler, *cpu_flags(cpu), "-mthumb", "-mfloat-abi=hard", "-O2", "-Wall", "-Werror",
               "-Wno-error=unused-function", *std, "-c", str(source), "-o", str(out),
               "-DC10_USING_CUSTOM_GENERATED_MACROS", *[f"-D{d}" for d in defines], *includes]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"{source.name} for {cpu} {defines}:\n{done.stderr[-6000:]}"
    assert out.stat().st_size > 0


@pytest.fixture(scope="module")
def app_headers(tmp_path_factory):
    out = tmp_path_factory.mktemp("app_headers")
    headers = {}
    for model in APPS:
        path = out / model.replace("/", "_") / "app_model.h"
        artifacts = REPO / "zoo" / "artifacts" / model
        subprocess.run([sys.executable, "-m", "tinyzoo.common.firmware.app_header", str(artifacts), "-o", str(path),
                        "--pte", str(artifacts / "ethos-u55-128" / "model.pte"),
                        "--input", str(artifacts / "reference_input.bin")], check=True, cwd=REPO)
        headers[model] = path.parent
    return headers


@pytest.fixture(scope="module")
def lm_app_header(tmp_path_factory):
    """app_model.h of a small language model (tokenizer trained here; the embedded .pte is a stand-in: this is a
    compile check), with the embedding table embedded as a device build embeds it."""
    import json

    from tinyzoo.common.firmware.app_header import generate
    from tinyzoo.common.tokenizer import train_tokenizer

    from tests.test_text import make_stories

    folder = tmp_path_factory.mktemp("lm_header")
    vocab, dim, context = 300, 16, 16
    train_tokenizer(make_stories(100), {"vocab_size": vocab}).save(folder / "tokenizer.model")
    io = {"dtype": "int8", "scale": 0.05, "zero_point": 0, "qmin": -128, "qmax": 127}
    (folder / "metrics.json").write_text(json.dumps({
        "model": "text/tiny_lm", "quantization": {"io": {"input": io, "output": io}},
        "model_info": {"input": {"shape": [1, context, dim]}, "output": {"shape": [1, context, vocab]}},
        "config": {"card": {"task": "text-generation"}, "tokenizer": {"vocab_size": vocab},
                   "generate": {"prompts": ["Once upon a"], "new_tokens": 4}}}))
    (folder / "embedding_int8.bin").write_bytes(bytes(vocab * dim))
    (folder / "model.pte").write_bytes(bytes(64))
    generate(folder, folder / "app_model.h", pte=folder / "model.pte", embedding=folder / "embedding_int8.bin")
    return folder


@pytest.fixture(scope="module")
def lm_step_app_header(lm_app_header, tmp_path_factory):
    """The same language model with its KV-cache decode step (metrics' kv_cache io and shapes, decode_step/'s
    tables), the decode step's table embedded as a device build of the decode step embeds it."""
    import json

    from tinyzoo.common.firmware.app_header import generate

    folder = tmp_path_factory.mktemp("lm_step_header")
    for name in ("tokenizer.model", "embedding_int8.bin", "model.pte"):
        (folder / name).write_bytes((lm_app_header / name).read_bytes())
    metrics = json.loads((lm_app_header / "metrics.json").read_text())
    vocab, dim, context, depth, head_dim = 300, 16, 16, 2, 8
    io = {"dtype": "int8", "scale": 0.05, "zero_point": 0, "qmin": -128, "qmax": 127}
    metrics["kv_cache"] = {"io": {"inputs": [io] * 6, "outputs": [io] * 3}, "shapes": {
        "inputs": [[1, 1, dim], [1, 1, head_dim], [1, 1, head_dim], [1, depth * (context - 1), dim],
                   [1, depth * (context - 1), dim], [1, 1, context]],
        "outputs": [[1, 1, vocab], [1, depth, dim], [1, depth, dim]]}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "decode_step").mkdir()
    (folder / "decode_step" / "embedding_int8.bin").write_bytes(bytes(range(256)) * (vocab * dim // 256)
                                                                 + bytes(vocab * dim % 256))
    (folder / "decode_step" / "rotary_int8.bin").write_bytes(bytes(64 * 2 * head_dim))
    generate(folder, folder / "app_model.h", pte=folder / "model.pte",
             embedding=folder / "decode_step" / "embedding_int8.bin")
    assert "#define TZ_LM_DECODE_STEP 1" in (folder / "app_model.h").read_text()
    return folder


@pytest.mark.parametrize("cpu", ["cortex-m55", "cortex-m85"])
@pytest.mark.parametrize("decode_step", [False, True], ids=["window", "decode_step"])
def test_language_model_app_compiles(tmp_path, lm_app_header, lm_step_app_header, cpu, decode_step):
    header = lm_step_app_header if decode_step else lm_app_header
    includes = [f"-I{header}", f"-I{RUNTIME}", f"-I{FIRMWARE / 'frontend'}", *executorch_include()]
    board = "TZ_BOARD_CORSTONE300" if cpu == "cortex-m55" else "TZ_BOARD_CORSTONE320"
    compile_one(REPO / "common/firmware/apps/text_generation.cpp", cpu, [board], includes, tmp_path / "main.o")


@pytest.mark.parametrize("cpu", ["cortex-m55", "cortex-m85"])
@pytest.mark.parametrize("board", list(BOARD_SOURCES))
def test_runtime_compiles(tmp_path, cpu, board):
    includes = [f"-I{RUNTIME}", f"-I{RUNTIME / 'compile_check' / 'include'}", *executorch_include()]
    sources = ["tz_runtime.cpp", "platform_cortex_m.cpp", "ethosu_hooks.cpp", *BOARD_SOURCES[board]]
    for name in sources:
        compile_one(RUNTIME / name, cpu, [board, NPU[board]], includes, tmp_path / f"{name}.o")


@pytest.mark.parametrize("cpu", ["cortex-m55", "cortex-m85"])
@pytest.mark.parametrize("model", list(APPS))
def test_apps_and_front_ends_compile(tmp_path, app_headers, cpu, model):
    frontend = FIRMWARE / "frontend"
    includes = [f"-I{app_headers[model]}", f"-I{RUNTIME}", f"-I{frontend}", *executorch_include()]
    board = "TZ_BOARD_CORSTONE300" if cpu == "cortex-m55" else "TZ_BOARD_CORSTONE320"
    compile_one(APPS[model], cpu, [board, "TZ_FAST_SCRATCH_SIZE=393216"], includes, tmp_path / "main.o")
    for source in sorted(frontend.glob("*.c")):
        compile_one(source, cpu, [], [f"-I{frontend}"], tmp_path / f"{source.stem}.o")


def test_a_truncated_rotary_table_is_refused_by_name(lm_step_app_header, tmp_path):
    import shutil

    from tinyzoo.common.errors import TinyzooError
    from tinyzoo.common.firmware.app_header import generate

    folder = tmp_path / "model"
    shutil.copytree(lm_step_app_header, folder)
    rotary = folder / "decode_step" / "rotary_int8.bin"
    rotary.write_bytes(rotary.read_bytes()[:-3])
    with pytest.raises(TinyzooError, match="rotary_int8.bin: 1021 bytes, not rows of 2 x 8 int8"):
        generate(folder, folder / "app_model.h")
