"""The lines of `app_model.h` (common/firmware/app_header.py), one kind at a time: C literals, the front ends'
constants (MFCC sizes and mel-filter ranges, image size, mean and std), int8 quantization parameters, labels and
keyword post-processing, a language model's prompt, piece table and KV-cache decode step. A task's header methods
(`Task.header_front_end`, `Task.header_task`) put them together for its app."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tinyzoo.common.errors import ConfigError, TinyzooError
from tinyzoo.common.frontend.image import ImageConfig
from tinyzoo.common.frontend.mfcc import MfccConfig, mel_filterbank
from tinyzoo.common.postprocess import KwsPostprocess
from tinyzoo.common.tokenizer import BOS, Tokenizer
from tinyzoo.common.verify import quantize

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


def bytes_array(name: str, data: bytes, attribute: str) -> list[str]:
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


def mfcc_lines(front: dict, cfg: dict, input_numel: int | None, source: str) -> list[str]:
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


def image_lines(front: dict, input_shape: list[int] | None, source: str, layout: str = "NCHW") -> list[str]:
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


def qparams_c(q: dict, what: str) -> str:
    """A `tz_qparams` initializer (tz_quantize.h) of one int8 tensor's scale and zero point."""
    if q.get("dtype", "int8") != "int8":
        raise ConfigError(f"{what} is {q['dtype']}, the firmware handles int8 only")
    return f"{{{c_float(q['scale'])}, {int(q['zero_point'])}, {int(q['qmin'])}, {int(q['qmax'])}}}"


def qparams_lines(io: dict) -> list[str]:
    lines = ["#define TZ_HAVE_QPARAMS 1"]
    for which in ("input", "output"):
        init = qparams_c(io[which], f"the model's {which}")
        lines.append(f"/* model {which}: real = (q - zero_point) * scale */")
        lines.append(f"#define TZ_{which.upper()}_QPARAMS {init}")
    return lines


def labels_lines(labels: list[str]) -> list[str]:
    return [f"#define TZ_NUM_CLASSES {len(labels)}",
            "static inline const char *const *tz_frontend_labels(void)",
            "{",
            f"    static const char *const labels[{len(labels)}] = {{{', '.join(c_string(s) for s in labels)}}};",
            "    return labels;",
            "}", ""]


def kws_lines(labels: list[str], overrides: dict | None) -> list[str]:
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


def decode_step_lines(kv: dict, folder: Path, prompt_length: int, dim: int, vocab: int) -> list[str]:
    """The KV-cache decode step's part of a language model's header (common/text.py `KVCache`, `DecodeStep`):
    its shapes, the int8 parameters of its six inputs and three outputs, the int8 0/1 of the visible mask and
    the rotary rows of the positions the app can reach (decode_step/rotary_int8.bin)."""

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
           (f"#define TZ_LM_STEP_EMBEDDING_FNV1A 0x{fnv1a(table_path.read_bytes()):08x}u"
            "   /* decode_step/embedding_int8.bin */"),
           f"#define TZ_LM_VISIBLE_OFF {visible_off}   /* the visible mask's int8 0 and 1 */",
           f"#define TZ_LM_VISIBLE_ON {visible_on}",
           ("/* inputs x, cos, sin, keys, values, visible; outputs logits, new keys, new values: "
            "real = (q - zero_point) * scale */"),
           f"static const tz_qparams tz_lm_step_inputs[{len(DECODE_INPUTS)}] = {{"
           + ", ".join(qparams_c(v, f"decode-step input {n}") for n, v in zip(DECODE_INPUTS, io["inputs"])) + "};",
           f"static const tz_qparams tz_lm_step_outputs[{len(DECODE_OUTPUTS)}] = {{"
           + ", ".join(qparams_c(v, f"decode-step output {n}") for n, v in zip(DECODE_OUTPUTS, io["outputs"])) + "};",
           f"#define TZ_LM_ROTARY_POSITIONS {positions}",
           f"/* int8 cos then sin row of each absolute position 0 … {positions - 1} ({rotary_path.name}) */"]
    out += bytes_array("tz_lm_rotary", rotary[:positions].tobytes(), "alignas(16)")
    return out + [""]


def lm_lines(info: dict, tokenizer_path: Path, prompt: str, new_tokens: int, kv: dict | None = None) -> list[str]:

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
        out += decode_step_lines(kv, folder, len(ids), dim, vocab)
    return out


# --- the header ----------------------------------------------------------------------------------------------
