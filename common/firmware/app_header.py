"""Write `app_model.h`, the one generated header of a firmware app (and of the front-end test harness): everything
the C side needs to know about one model, derived from the Python definitions so the two cannot drift.

    python -m tinyzoo.common.firmware.app_header zoo/artifacts/kws/ds_cnn -o build/fw/app_model.h
    python -m tinyzoo.common.firmware.app_header recipes/vision/mobilenet_vww/config.yaml -o build/fw/app_model.h
    python -m tinyzoo.common.firmware.app_header zoo/artifacts/kws/ds_cnn -o build/fw/app_model.h \
        --pte zoo/artifacts/kws/ds_cnn/ethos-u55-128/model.pte --input zoo/artifacts/kws/ds_cnn/reference_input.bin
    python -m tinyzoo.common.firmware.app_header zoo/artifacts/text/tiny_lm -o build/fw/app_model.h --prompt "Once upon a time"

SOURCE is a published model's folder (`zoo/artifacts/<task>/<model>`, or a build folder: its metrics.json, which
holds the resolved config), a metrics.json, or a recipe's config.yaml (then the quantization and labels come from
the published metrics.json next to the recipe's artifacts, or --metrics; without one the header has no
TZ_HAVE_QPARAMS).

What the header holds:
  * the model: TZ_APP_MODEL_NAME, TZ_APP_INPUT_NUMEL, int8 TZ_INPUT_QPARAMS / TZ_OUTPUT_QPARAMS (TZ_HAVE_QPARAMS);
  * the front end's parameters, never its tables (tz_mfcc_init computes window, mel weights and DCT at start-up):
    MFCC sizes, NumPy's sparse mel-filter ranges, the exact workspace size (tz_frontend_mfcc_config()), or the
    image size, mean and std (tz_frontend_image_config());
  * the labels (TZ_NUM_CLASSES, tz_frontend_labels());
  * KWS post-processing, from common.postprocess.KwsPostprocess.for_labels(labels, config `postprocess:`)
    (tz_frontend_kws_config()): the one definition Python, C and the docs share;
  * a language model (recipes/text/*): vocabulary, width and window (TZ_LM_*), the prompt's token ids (tokenized
    here with the model's tokenizer.model) and the SentencePiece piece table for decoding on the device;
  * optionally (device builds) the .pte, the bundled int8 input or the LM's int8 embedding table as C arrays.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make `common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from tinyzoo.common import tasks

from tinyzoo.common.config import load_config, load_recipe_config
from tinyzoo.common.errors import ConfigError, TinyzooError
from tinyzoo.common.frontend.image import ImageConfig
from tinyzoo.common.frontend.mfcc import MfccConfig, mel_filterbank
from tinyzoo.common.postprocess import KwsPostprocess

from tinyzoo.common.layout import ARTIFACTS, shown
SPACE_PIECE = "\u2581"        # SentencePiece's word-boundary mark
UNKNOWN_SURFACE = " \u2047 "  # what SentencePiece's decode prints for the unknown piece


# --- C literals ----------------------------------------------------------------------------------------------

def c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def c_bytes_string(data: bytes) -> str:
    """A C string literal holding exactly these bytes (octal escapes for anything but printable ASCII)."""
    out = []
    for b in data:
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= b < 127 and ch != "?":      # '?' could start a trigraph
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")           # at most 3 octal digits: never swallows the next character
    return '"' + "".join(out) + '"'


def c_float(x: float) -> str:
    """A C float literal for float32(x): NumPy prints the shortest decimal that reads back as that float32, and
    a C compiler reads an f-suffixed literal straight to the nearest float32, so both sides hold the same value."""
    text = np.format_float_positional(np.float32(x), unique=True, trim="0") if abs(x) >= 1e-4 or x == 0 else \
        np.format_float_scientific(np.float32(x), unique=True, trim="0")
    if text.endswith("."):
        text += "0"
    return text + "f"


def _bytes_array(name: str, data: bytes, attribute: str) -> list[str]:
    lines = [f"{attribute} static const unsigned char {name}[{len(data)}] = {{"]
    for i in range(0, len(data), 20):
        lines.append("  " + ", ".join(f"0x{b:02x}" for b in data[i:i + 20]) + ",")
    lines.append("};")
    return lines


# --- sections ------------------------------------------------------------------------------------------------

def mel_ranges(cfg: MfccConfig) -> tuple[list[int], list[int]]:
    """First FFT bin and number of bins with a non-zero weight, per mel filter (each a contiguous run)."""
    fbank = mel_filterbank(cfg)
    first, count = [], []
    for j in range(cfg.n_mels):
        nonzero = np.flatnonzero(fbank[:, j] > 0)
        if len(nonzero) == 0:
            raise ConfigError(f"mel filter {j} covers no FFT bin: with n_fft={cfg.n_fft} at {cfg.sample_rate} Hz the "
                              f"filters between {cfg.f_min} and {cfg.f_max} Hz are narrower than one bin; raise n_fft "
                              f"or lower n_mels")
        if nonzero[-1] - nonzero[0] + 1 != len(nonzero):
            raise ConfigError(f"mel filter {j} is not one contiguous run of bins")
        first.append(int(nonzero[0]))
        count.append(len(nonzero))
    return first, count


# the MLPerf Tiny options of MfccConfig -> (C macro, {recipe value: tz_mfcc.h enum constant}), the default first
MFCC_OPTIONS = {
    "normalize": ("TZ_MFCC_NORMALIZE", {"none": "TZ_MFCC_NORMALIZE_NONE", "peak": "TZ_MFCC_NORMALIZE_PEAK"}),
    "mel_triangles": ("TZ_MFCC_MEL_TRIANGLES", {"hz": "TZ_MFCC_MEL_TRIANGLES_HZ", "mel": "TZ_MFCC_MEL_TRIANGLES_MEL"}),
    "dct": ("TZ_MFCC_DCT", {"ortho": "TZ_MFCC_DCT_ORTHO", "tf": "TZ_MFCC_DCT_TF"}),
}


def _mfcc_lines(front: dict, cfg: dict, input_numel: int | None, source: str) -> list[str]:
    m = MfccConfig.from_dict(front)
    options = {key: values[getattr(m, key)] for key, (_, values) in MFCC_OPTIONS.items()}
    first, count = mel_ranges(m)
    clip = int(cfg.get("data", {}).get("clip_samples", m.sample_rate))
    frames = m.num_frames(clip)
    if input_numel is not None and frames * m.n_mfcc != input_numel:
        raise ConfigError(f"{source}: {frames} MFCC frames x {m.n_mfcc} coefficients do not match the model's "
                          f"{input_numel} input values")
    return ['#include "tz_mfcc.h"', "",
            "#define TZ_FRONTEND_MFCC 1",
            f"#define TZ_MFCC_SAMPLE_RATE {m.sample_rate}",
            f"#define TZ_MFCC_WIN_LENGTH {m.win_length}      /* {m.window_ms} ms, periodic Hann */",
            f"#define TZ_MFCC_HOP_LENGTH {m.hop_length}      /* {m.hop_ms} ms */",
            f"#define TZ_MFCC_N_FFT {m.n_fft}",
            f"#define TZ_MFCC_N_MELS {m.n_mels}",
            f"#define TZ_MFCC_N_MFCC {m.n_mfcc}",
            f"#define TZ_MFCC_CLIP_SAMPLES {clip}   /* one model input */",
            f"#define TZ_MFCC_NUM_FRAMES {frames}",
            f"#define TZ_MFCC_MEL_WEIGHTS {sum(count)}   /* non-zero mel weights */",
            "#define TZ_MFCC_WORKSPACE_FLOATS_EXACT TZ_MFCC_WORKSPACE_FLOATS(TZ_MFCC_WIN_LENGTH, TZ_MFCC_N_FFT, "
            "TZ_MFCC_N_MELS, TZ_MFCC_N_MFCC, TZ_MFCC_MEL_WEIGHTS)",
            "/* normalize / mel_triangles / dct (tz_mfcc.h; MLPerf Tiny's front end: PEAK, MEL, TF) */",
            *(f"#define {macro} {options[key]}   /* {key}: {getattr(m, key)} */"
              for key, (macro, _) in MFCC_OPTIONS.items()),
            "",
            "/* The front end's config with NumPy's mel-filter ranges (first FFT bin, bin count per filter). */",
            "static inline const tz_mfcc_config *tz_frontend_mfcc_config(void)",
            "{",
            f"    static const uint16_t first_bin[{m.n_mels}] = {{{', '.join(map(str, first))}}};",
            f"    static const uint16_t num_bins[{m.n_mels}] = {{{', '.join(map(str, count))}}};",
            f"    static const tz_mfcc_config cfg = {{{m.sample_rate}, {m.win_length}, {m.hop_length}, {m.n_fft}, "
            f"{m.n_mels}, {m.n_mfcc}, {c_float(m.f_min)}, {c_float(m.f_max)}, {c_float(m.power)}, "
            f"{c_float(m.log_offset)}, first_bin, num_bins, "
            f"{', '.join(macro for macro, _ in MFCC_OPTIONS.values())}}};",
            "    return &cfg;",
            "}", ""]


def _image_lines(front: dict, input_shape: list[int] | None, source: str, layout: str = "NCHW") -> list[str]:
    """The image front end's constants; `layout` is the program's input layout (export.input_layout)."""
    im = ImageConfig.from_dict(front)
    h, w = im.size
    if input_shape is not None and list(input_shape[1:]) != [3, h, w]:
        raise ConfigError(f"{source}: the image front end's {h}x{w} RGB does not match the model input {input_shape}")
    return ['#include "tz_image.h"', "",
            "#define TZ_FRONTEND_IMAGE 1",
            f"#define TZ_IMAGE_HEIGHT {h}",
            f"#define TZ_IMAGE_WIDTH {w}",
            "",
            "static inline const tz_image_config *tz_frontend_image_config(void)",
            "{",
            f"    static const tz_image_config cfg = {{{h}, {w}, {{{', '.join(c_float(v) for v in im.mean)}}}, "
            f"{{{', '.join(c_float(v) for v in im.std)}}}, {int(layout == 'NHWC')}}};",
            "    return &cfg;",
            "}", ""]


def _qparams_c(q: dict, what: str) -> str:
    """A `tz_qparams` initializer (tz_quantize.h) of one int8 tensor's scale and zero point."""
    if q.get("dtype", "int8") != "int8":
        raise ConfigError(f"{what} is {q['dtype']}, the firmware handles int8 only")
    return f"{{{c_float(q['scale'])}, {int(q['zero_point'])}, {int(q['qmin'])}, {int(q['qmax'])}}}"


def _qparams_lines(io: dict) -> list[str]:
    lines = ["#define TZ_HAVE_QPARAMS 1"]
    for which in ("input", "output"):
        init = _qparams_c(io[which], f"the model's {which}")
        lines.append(f"/* model {which}: real = (q - zero_point) * scale */")
        lines.append(f"#define TZ_{which.upper()}_QPARAMS {init}")
    return lines


def _labels_lines(labels: list[str]) -> list[str]:
    return [f"#define TZ_NUM_CLASSES {len(labels)}",
            "static inline const char *const *tz_frontend_labels(void)",
            "{",
            f"    static const char *const labels[{len(labels)}] = {{{', '.join(c_string(s) for s in labels)}}};",
            "    return labels;",
            "}", ""]


def _kws_lines(labels: list[str], overrides: dict | None) -> list[str]:
    post = KwsPostprocess.for_labels(labels, overrides)
    ignored = ", ".join(labels[i] for i in post.ignore) or "none"
    return ['#include "tz_postprocess.h"',
            "/* KWS post-processing: common/postprocess.py KwsPostprocess.for_labels (override in the recipe's",
            " * `postprocess:` section). num_classes, window, threshold, refractory, ignore mask. */",
            f"#define TZ_KWS_WINDOW {post.window}",
            f"#define TZ_KWS_THRESHOLD {c_float(post.threshold)}",
            f"#define TZ_KWS_REFRACTORY {post.refractory}",
            "static inline const tz_kws_config *tz_frontend_kws_config(void)",
            "{",
            f"    static const tz_kws_config cfg = {{{len(labels)}, {post.window}, {c_float(post.threshold)}, "
            f"{post.refractory}, 0x{post.ignore_mask():08x}u}};   /* ignored: {ignored} */",
            "    return &cfg;",
            "}", ""]


def piece_bytes(tokenizer) -> list[bytes]:
    """What each token id prints as: SentencePiece pieces with '▁' as a space, <0xNN> byte pieces as that byte,
    control pieces (<s>, </s>) as nothing and the unknown piece as SentencePiece's ' ⁇ '."""
    sp = tokenizer.sp
    pieces = []
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        if sp.is_control(i):
            pieces.append(b"")
        elif sp.is_unknown(i):
            pieces.append(UNKNOWN_SURFACE.encode())
        elif sp.is_byte(i):
            pieces.append(bytes([int(piece[3:5], 16)]))    # "<0x0A>"
        else:
            pieces.append(piece.replace(SPACE_PIECE, " ").encode())
    return pieces


def fnv1a(data: bytes) -> int:
    """32-bit FNV-1a: the app checks that the embedding table it was given is the one its program reads."""
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


MAX_NEW_TOKENS = 256   # TZ_LM_MAX_NEW_TOKENS' default in common/firmware/apps/text_generation.cpp
DECODE_INPUTS = ("x", "cos", "sin", "keys", "values", "visible")   # the decode step's inputs, in order
DECODE_OUTPUTS = ("logits", "new_keys", "new_values")


def _decode_step_lines(kv: dict, folder: Path, prompt_length: int, dim: int, vocab: int) -> list[str]:
    """The KV-cache decode step's part of a language model's header (common/text.py `KVCache`, `DecodeStep`):
    its shapes, the int8 parameters of its six inputs and three outputs, the int8 0/1 of the visible mask and
    the rotary rows of the positions the app can reach (decode_step/rotary_int8.bin)."""
    from tinyzoo.common.verify import quantize

    shapes, io = kv["shapes"], kv["io"]
    x, cos, _, keys, _, visible = shapes["inputs"]
    logits, new_keys, _ = shapes["outputs"]
    head_dim, slots, depth = cos[-1], visible[-1] - 1, new_keys[1]
    if (x != [1, 1, dim] or keys != [1, depth * slots, dim] or logits != [1, 1, vocab]
            or len(io["inputs"]) != len(DECODE_INPUTS) or len(io["outputs"]) != len(DECODE_OUTPUTS)):
        raise ConfigError(f"the decode step's inputs {shapes['inputs']} and outputs {shapes['outputs']} are not "
                          f"the (x, cos, sin, keys, values, visible) -> (logits, new keys, new values) this app feeds")
    rotary_path, table_path = folder / "decode_step" / "rotary_int8.bin", folder / "decode_step" / "embedding_int8.bin"
    for path in (rotary_path, table_path):
        if not path.is_file():
            raise ConfigError(f"{path} is missing: the decode step's app tables come with the model's build "
                              f"(`tinyzoo build` then publish, or `tinyzoo pull`)")
    rotary = np.fromfile(rotary_path, dtype=np.int8)
    if rotary.size == 0 or rotary.size % (2 * head_dim):
        raise TinyzooError(f"{rotary_path}: {rotary.size} bytes, not rows of 2 x {head_dim} int8 (cos, sin): pull "
                           f"or rebuild the model")
    rotary = rotary.reshape(-1, 2 * head_dim)
    positions = min(len(rotary), prompt_length + MAX_NEW_TOKENS - 1)   # the bundled prompt + the most new tokens
    q = io["inputs"][DECODE_INPUTS.index("visible")]
    visible_off, visible_on = (int(v) for v in quantize(np.array([0.0, 1.0], dtype=np.float32), q))
    out = ["/* the KV-cache decode step (decode_step/model.pte): one token per inference, the keys and values of the",
           " * previous tokens in a ring of TZ_LM_SLOTS slots per layer (common/text.py KVCache) */",
           "#define TZ_LM_DECODE_STEP 1",
           f"#define TZ_LM_DEPTH {depth}",
           f"#define TZ_LM_SLOTS {slots}",
           f"#define TZ_LM_HEAD_DIM {head_dim}",
           f"#define TZ_LM_STEP_EMBEDDING_FNV1A 0x{fnv1a(table_path.read_bytes()):08x}u   /* decode_step/embedding_int8.bin */",
           f"#define TZ_LM_VISIBLE_OFF {visible_off}   /* the visible mask's int8 0 and 1 */",
           f"#define TZ_LM_VISIBLE_ON {visible_on}",
           "/* inputs x, cos, sin, keys, values, visible; outputs logits, new keys, new values: real = (q - zero_point) * scale */",
           f"static const tz_qparams tz_lm_step_inputs[{len(DECODE_INPUTS)}] = {{"
           + ", ".join(_qparams_c(v, f"decode-step input {n}") for n, v in zip(DECODE_INPUTS, io["inputs"])) + "};",
           f"static const tz_qparams tz_lm_step_outputs[{len(DECODE_OUTPUTS)}] = {{"
           + ", ".join(_qparams_c(v, f"decode-step output {n}") for n, v in zip(DECODE_OUTPUTS, io["outputs"])) + "};",
           f"#define TZ_LM_ROTARY_POSITIONS {positions}",
           f"/* int8 cos then sin row of each absolute position 0 … {positions - 1} ({rotary_path.name}) */"]
    out += _bytes_array("tz_lm_rotary", rotary[:positions].tobytes(), "alignas(16)")
    return out + [""]


def _lm_lines(info: dict, tokenizer_path: Path, prompt: str, new_tokens: int, kv: dict | None = None) -> list[str]:
    from tinyzoo.common.tokenizer import BOS, Tokenizer

    in_shape, out_shape = info["input"]["shape"], info["output"]["shape"]
    if len(in_shape) != 3 or len(out_shape) != 3 or in_shape[:2] != out_shape[:2] or in_shape[0] != 1:
        raise ConfigError(f"a language-model app needs input (1, context, dim) and output (1, context, vocab), "
                          f"not {in_shape} -> {out_shape}")
    _, context, dim = in_shape
    vocab = out_shape[2]
    tokenizer = Tokenizer.load(tokenizer_path)
    if tokenizer.vocab_size != vocab:
        raise ConfigError(f"{tokenizer_path} has {tokenizer.vocab_size} pieces but the model's output has {vocab}")
    ids = [BOS] + tokenizer.encode(prompt)
    if len(ids) > context:
        raise ConfigError(f"the prompt is {len(ids)} tokens, more than the model's window of {context}")
    if new_tokens < 1:
        raise ConfigError(f"new_tokens must be at least 1, not {new_tokens}")
    pieces = piece_bytes(tokenizer)
    offsets = np.cumsum([0] + [len(p) for p in pieces]).tolist()
    table = b"".join(pieces)
    folder = tokenizer_path.parent
    embedding_file = folder / "embedding_int8.bin"
    out = ["#define TZ_APP_LANGUAGE_MODEL 1",
           f"#define TZ_LM_VOCAB {vocab}",
           f"#define TZ_LM_DIM {dim}",
           f"#define TZ_LM_CONTEXT {context}      /* the graph's window: (1, context, dim) int8 in */",
           f"#define TZ_LM_EMBEDDING_BYTES {vocab * dim}   /* embedding_int8.bin: (vocab, dim) int8 */",
           *([f"#define TZ_LM_EMBEDDING_FNV1A 0x{fnv1a(embedding_file.read_bytes()):08x}u   /* embedding_int8.bin */"]
             if embedding_file.is_file() else []),
           f"#define TZ_LM_NEW_TOKENS {new_tokens}",
           f"#define TZ_LM_PROMPT_LENGTH {len(ids)}",
           f"#define TZ_LM_PROMPT_TEXT {c_string(prompt)}",
           f"/* BOS + {tokenizer_path.name}'s encoding of the prompt */",
           f"static const int32_t tz_lm_prompt_ids[TZ_LM_PROMPT_LENGTH] = {{{', '.join(map(str, ids))}}};",
           "/* token id -> bytes: tz_lm_pieces + tz_lm_piece_offsets[id], tz_lm_piece_offsets[id + 1] - that bytes",
           " * ('\u2581' is a space, <0xNN> the byte, <s> and </s> nothing; SentencePiece drops the first space) */",
           f"static const uint32_t tz_lm_piece_offsets[TZ_LM_VOCAB + 1] = {{{', '.join(map(str, offsets))}}};",
           "static const char tz_lm_pieces[] ="]
    chunk = 48
    parts = [table[i:i + chunk] for i in range(0, len(table), chunk)] or [b""]
    out += [f"    {c_bytes_string(p)}" for p in parts]
    out[-1] += ";"
    out.append("")
    if kv and kv.get("shapes"):
        out += _decode_step_lines(kv, folder, len(ids), dim, vocab)
    return out


# --- the header ----------------------------------------------------------------------------------------------

def render(cfg: dict, metrics: dict | None, source: str, *, artifact_dir: Path | None = None,
           pte: str | Path | None = None, bundled_input: str | Path | None = None,
           embedding: str | Path | None = None, prompt: str | None = None, new_tokens: int | None = None) -> str:
    """The header text for one model: `cfg` its (resolved) recipe config, `metrics` its published metrics.json
    (None: no quantization), `artifact_dir` where its tokenizer.model lives (language models)."""
    metrics = metrics or {}
    name = metrics.get("model") or cfg.get("model", {}).get("name", "?")
    info = metrics.get("model_info")
    input_shape = info["input"]["shape"] if info else None
    input_numel = int(np.prod(input_shape)) if input_shape else None
    front = metrics.get("frontend") or cfg.get("frontend")   # the front end the published model was built with
    task = tasks.of(cfg)

    out = [f"/* app_model.h — generated by common/firmware/app_header.py from {source} ({name}).",
           " * Do not edit: regenerate it when the recipe or the published model changes. */",
           "#ifndef TZ_APP_MODEL_H", "#define TZ_APP_MODEL_H", "",
           "#include <stddef.h>", "#include <stdint.h>", "",
           f"#define TZ_APP_MODEL_NAME {c_string(name)}"]
    if input_numel is not None:
        out.append(f"#define TZ_APP_INPUT_NUMEL {input_numel}")
    out.append("")

    out += task.header_front_end(front, cfg, input_shape, source)

    out.append('#include "tz_quantize.h"')
    io = metrics.get("quantization", {}).get("io")
    if io:
        out += _qparams_lines(io)
    elif metrics:
        raise ConfigError(f"{source}: the metrics have no quantization.io; rebuild the model with int8 I/O")
    else:
        out.append("/* no published metrics.json: no TZ_INPUT_QPARAMS / TZ_OUTPUT_QPARAMS (pass --metrics) */")
    out.append("")

    out += task.header_task(cfg, metrics, source, artifact_dir=artifact_dir, prompt=prompt, new_tokens=new_tokens)

    if pte is not None:
        data = Path(pte).read_bytes()
        out += [f"/* {Path(pte).as_posix()}, {len(data)} bytes */", '#include "tz_pools.h"  /* TZ_MODEL_DATA */',
                "#define TZ_APP_EMBEDDED_PTE 1"]
        out += _bytes_array("tz_app_model_pte", data, "TZ_MODEL_DATA") + [""]
    if bundled_input is not None:
        data = Path(bundled_input).read_bytes()
        if input_numel is not None and len(data) != input_numel:
            raise TinyzooError(f"{bundled_input}: {len(data)} bytes, but the model's int8 input has {input_numel} "
                               f"values")
        out += [f"/* {Path(bundled_input).as_posix()}: the model's int8 input */", "#define TZ_APP_EMBEDDED_INPUT 1"]
        out += _bytes_array("tz_app_bundled_input", data, "alignas(16)") + [""]
    if embedding is not None:
        data = Path(embedding).read_bytes()
        want = task.read_only_data_bytes(metrics) if info else 0
        if not want:
            raise ConfigError("--embedding is for language models (the int8 token-embedding table)")
        if len(data) != want:
            raise TinyzooError(f"{embedding}: {len(data)} bytes, but the (vocab, dim) int8 table has {want}")
        out += [f"/* {Path(embedding).as_posix()}: (vocab, dim) int8 token embeddings */",
                '#include "tz_pools.h"  /* TZ_MODEL_DATA */', "#define TZ_APP_EMBEDDED_EMBEDDING 1"]
        out += _bytes_array("tz_lm_embedding_table", data, "TZ_MODEL_DATA") + [""]
    out += ["#endif /* TZ_APP_MODEL_H */", ""]
    return "\n".join(out)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise TinyzooError(f"metrics file not found: {path}") from None
    except json.JSONDecodeError as err:
        raise TinyzooError(f"{path} is not valid JSON: {err}") from None


def _relative(path: Path) -> str:
    try:
        return shown(path)
    except ValueError:
        return Path(path).as_posix()


def load_source(source: str | Path, metrics_path: str | Path | None = None) -> tuple[dict, dict | None, Path | None]:
    """(config, metrics or None, artifact folder or None) of a model folder, a metrics.json or a config.yaml."""
    source = Path(source)
    if source.is_dir():
        if not (source / "metrics.json").is_file():
            raise TinyzooError(f"no metrics.json in {source}: pass a published model's folder "
                               f"(zoo/artifacts/<task>/<model>), a build folder or a recipe's config.yaml")
        source = source / "metrics.json"
    if source.suffix == ".json":
        metrics = _read_json(source)
        cfg = metrics.get("config")
        if cfg is None and (source.parent / "config.resolved.yaml").is_file():
            cfg = load_config(source.parent / "config.resolved.yaml")
        if cfg is None:
            raise ConfigError(f"{source} holds no `config` (the resolved recipe config): pass the recipe's "
                              f"config.yaml and --metrics {source}")
        return cfg, metrics, source.parent
    cfg = load_recipe_config(source.parent) if source.name == "config.yaml" else load_config(source)
    if metrics_path is None:
        name = cfg.get("model", {}).get("name")
        published = ARTIFACTS / name / "metrics.json" if name else None
        metrics_path = published if published is not None and published.is_file() else None
    if metrics_path is None:
        return cfg, None, None
    return cfg, _read_json(Path(metrics_path)), Path(metrics_path).parent


def generate(source: str | Path, output: str | Path, metrics_path: str | Path | None = None, **embedded) -> Path:
    """Write `app_model.h` for `source` (model folder, metrics.json or config.yaml) to `output`; `embedded`: pte,
    bundled_input, embedding, prompt, new_tokens (see render). The file is left untouched when unchanged."""
    cfg, metrics, artifact_dir = load_source(source, metrics_path)
    text = render(cfg, metrics, _relative(Path(source)), artifact_dir=artifact_dir, **embedded)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if not output.exists() or output.read_text() != text:   # keep the timestamp: no needless rebuilds
        output.write_text(text)
    return output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="zoo/artifacts/<task>/<model> (or a build folder), its metrics.json, or a "
                                       "recipe config.yaml")
    parser.add_argument("-o", "--output", required=True, help="header to write, e.g. <dir>/app_model.h")
    parser.add_argument("--metrics", help="with a config.yaml: the published metrics.json "
                                          "(default: zoo/artifacts/<model>/metrics.json)")
    parser.add_argument("--pte", help="embed this .pte (device builds)")
    parser.add_argument("--input", help="embed this int8 model input (reference_input.bin)")
    parser.add_argument("--embedding", help="language models: embed this int8 embedding table (embedding_int8.bin)")
    parser.add_argument("--prompt", help="language models: the bundled prompt (default: the first generate.prompts)")
    parser.add_argument("--new-tokens", type=int, help="language models: tokens to generate (default: "
                                                       "generate.new_tokens)")
    args = parser.parse_args(argv)
    try:
        path = generate(args.source, args.output, args.metrics, pte=args.pte, bundled_input=args.input,
                        embedding=args.embedding, prompt=args.prompt, new_tokens=args.new_tokens)
    except TinyzooError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
