"""The firmware's C front ends and post-processing (common/firmware/frontend) against the Python ones the models
were trained with: the C is compiled with the system `cc` into tmp_path and run through its test harness
(frontend_cli.c) on golden inputs (common/firmware/golden.py: real Speech Commands clips, synthetic images) and on
edge signals.

Tolerances, from the arithmetic (the same figures and reasoning are in common/firmware/frontend/README.md):

* MFCC. The C runs in float32, the reference (mfcc_numpy) in float64. On speech and other broadband signals the
  error is float32 rounding of the log-mel energies and the 40-term DCT sums: |MFCC| <= ~90 (c0 of digital
  silence is sqrt(40) * log(1e-6) = -87.4), ulp(90) = 7.6e-6, so a few ulp of the largest coefficient.
  Bound: |C - ref| <= 1e-4 + 1e-5 |ref| (measured max: 1.1e-5 on the clips, 2.3e-5 on silence). The same bound
  holds for MLPerf Tiny's front end (normalize: peak, mel_triangles: mel, dct: tf; measured 1.8e-5 on the clips,
  3.4e-5 on silence, whose c0 is sqrt(80) log(1e-6) = -123.6 with TF's DCT).
  Narrowband synthetic signals (pure tones, DC, chirps) are different: a float32 FFT's absolute error is
  ~1e-7 of the frame's peak, and the Hann sidelobes 120+ dB below a pure tone's peak sit at that level, so those
  mel bands (where mel + 1e-6 is itself ~1e-5) get percent-level relative errors and their logs ~1e-2 absolute
  errors. PyTorch's float32 front end, the one the model was trained and calibrated with, has the same limit;
  the test requires the C to be no further from float64 than 3x PyTorch's own float32 error (measured
  0.6x-1.6x, max 1.3e-2).
* int8 model input. Quantization itself is bit-exact (same float32 product, round half to even; asserted on
  exact .5 cases). A front-end difference of |d| flips the rounded value only when the reference lies within |d|
  of a rounding boundary: P ~ 2|d| / scale = 2 * 1e-5 / 0.42 ~ 5e-5 per value for KWS. Rule: on real clips and
  broadband signals >= 99.5 % of values exact (measured 100 %), narrowband >= 97 % (measured >= 98.6 %), never
  more than +-1 LSB.
* Images at the model's size: the C does PyTorch's float32 operations in the same order, so it is bit-identical
  to ImagePreprocess (asserted) and within 1e-6 of float64 (|x| <= 2.1, ulp(2) = 2.4e-7; measured 2e-7); int8
  identical to the pipeline's. With a resize, float32 source coordinates (scale = in/out rounded to float,
  times up to W pixels) shift a sample point by <= 2 eps W pixels, moving the value by that times the largest
  neighbour step (<= 1 on the [0, 1] scale), divided by std: bound (2 eps max(H, W) + 8 eps) / min(std)
  (3.9e-5 for 160 px at std 0.5; measured 1.2e-6). int8 >= 99.9 % exact, never more than +-1.
* Post-processing: float32 C vs float64 NumPy; averaged scores within 1e-5, detections, their classes and result
  indices identical (the test checks that no score lies within 1e-4 of the threshold, where float32 could
  legitimately decide the other way).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from tinyzoo.common.firmware import app_header, golden, header_lines
from tinyzoo.common.frontend.image import ImageConfig, ImagePreprocess
from tinyzoo.common.frontend.mfcc import MFCC, MfccConfig, mfcc_numpy
from tinyzoo.common.postprocess import KwsPostprocess, KwsSmoother, softmax, top_k
from tinyzoo.common.verify import dequantize, quantize

from tests.conftest import REPO

FRONTEND = REPO / "common" / "firmware" / "frontend"
C_SOURCES = [FRONTEND / "tz_mfcc.c", FRONTEND / "tz_image.c", FRONTEND / "tz_postprocess.c"]
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]
KWS_MODELS = ["kws/ds_cnn", "kws/kwt", "kws/ds_cnn.mlperf"]
VISION_MODELS = ["vision/resnet8_cifar10", "vision/vit_tiny_cifar10", "vision/mobilenet_vww",
                 "vision/resnet8_cifar10.mlperf"]
EPS32 = float(np.finfo(np.float32).eps) / 2   # unit roundoff 2^-24

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")


def compile_cli(header_dir: Path) -> Path:
    exe = header_dir / "frontend_cli"
    cmd = ["cc", *CFLAGS, f"-I{header_dir}", f"-I{FRONTEND}", str(FRONTEND / "tests" / "frontend_cli.c"),
           *map(str, C_SOURCES), "-lm", "-o", str(exe)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"C build failed:\n{' '.join(cmd)}\n{result.stderr}"
    return exe


def run_cli(exe: Path, *args, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
    if ok:
        assert result.returncode == 0, f"frontend_cli {' '.join(map(str, args))} failed: {result.stderr}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """model -> (golden folder with app_model.h, harness compiled against it, manifest); built on demand."""
    cache: dict[str, tuple[Path, Path, dict]] = {}

    def get(model: str):
        if model not in cache:
            out = tmp_path_factory.mktemp(model.replace("/", "__"))
            manifest = json.loads(golden.export_golden(model, out).read_text())
            cache[model] = (out, compile_cli(out), manifest)
        return cache[model]
    return get


# --- MFCC ----------------------------------------------------------------------------------------------------

def c_mfcc(exe: Path, work: Path, pcm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    src, feats, q = work / "edge.s16", work / "edge.f32", work / "edge.s8"
    src.write_bytes(pcm.astype("<i2").tobytes())
    run_cli(exe, "mfcc", src, feats, q)
    n = len(np.fromfile(feats, "<f4"))
    return np.fromfile(feats, "<f4").reshape(n // 10, 10).astype(np.float64), np.fromfile(q, "i1").reshape(n // 10, 10)


def assert_int8_rule(c: np.ndarray, ref: np.ndarray, min_exact: float, what: str) -> float:
    diff = np.abs(c.astype(int) - ref.astype(int))
    exact = float((diff == 0).mean())
    assert diff.max() <= 1, f"{what}: int8 differs by {diff.max()} LSB (allowed: 1)"
    assert exact >= min_exact, f"{what}: only {exact:.4%} of int8 values exact (need {min_exact:.2%})"
    return exact


@pytest.mark.parametrize("model", KWS_MODELS)
def test_mfcc_matches_float64_reference_on_real_clips(built, model):
    out, exe, manifest = built(model)
    q = manifest["input_quantization"]
    torch_mfcc = MFCC(MfccConfig.from_dict(manifest["frontend"]))
    assert len(manifest["samples"]) >= 5
    for s in manifest["samples"]:
        ref = np.fromfile(out / s["features"], "<f8").reshape(s["features_shape"])
        run_cli(exe, "mfcc", out / s["pcm"], out / "c.f32", out / "c.s8")
        c = np.fromfile(out / "c.f32", "<f4").reshape(ref.shape).astype(np.float64)
        assert ref.shape == (49, 10)
        err = np.abs(c - ref)
        assert (err <= 1e-4 + 1e-5 * np.abs(ref)).all(), f"{s['name']}: max abs error {err.max():.2e}"
        c_int8 = np.fromfile(out / "c.s8", "i1").reshape(ref.shape)
        assert_int8_rule(c_int8, np.fromfile(out / s["input"], "i1").reshape(ref.shape), 0.995, s["name"])
        # and against the int8 input the pipeline itself computes (PyTorch's float32 front end)
        pcm = np.fromfile(out / s["pcm"], "<i2")
        pipeline = quantize(torch_mfcc(torch.from_numpy(pcm.astype(np.float32) / 32768.0)[None])[0], q)
        assert_int8_rule(c_int8, pipeline, 0.995, f"{s['name']} vs pipeline")


def edge_signals() -> dict[str, tuple[np.ndarray, bool]]:
    """name -> (int16 PCM, narrowband?)"""
    t = np.arange(16000) / 16000
    rng = np.random.default_rng(0)
    sine = np.sin(2 * np.pi * 300 * t)
    return {
        "silence": (np.zeros(16000), False),
        "clipped_3x_sine": (np.clip(np.rint(3 * 32767 * sine), -32768, 32767), False),
        "full_scale_square": (np.where(sine >= 0, 32767, -32768), False),
        "full_scale_noise": (rng.integers(-32768, 32768, 16000), False),
        "one_lsb_noise": (rng.integers(-1, 2, 16000), False),
        "short_burst_then_zeros": (np.concatenate([rng.integers(-8000, 8000, 3000), np.zeros(13000)]), False),
        "full_scale_tone_1khz": (np.rint(32767 * np.sin(2 * np.pi * 1000 * t)), True),
        "full_scale_tone_440hz": (np.rint(32767 * np.sin(2 * np.pi * 440.3 * t)), True),
        "dc_offset": (np.full(16000, 20000), True),
        "chirp_50hz_8khz": (np.rint(20000 * np.sin(2 * np.pi * (50 * t + 3950 * t ** 2))), True),
    }


def test_mfcc_edge_signals(built):
    out, exe, manifest = built("kws/ds_cnn")
    cfg, q = MfccConfig.from_dict(manifest["frontend"]), manifest["input_quantization"]
    torch_mfcc = MFCC(cfg)
    for name, (signal, narrowband) in edge_signals().items():
        pcm = signal.astype(np.int16)
        ref = mfcc_numpy(pcm / 32768.0, cfg)
        c, c_int8 = c_mfcc(exe, out, pcm)
        err = np.abs(c - ref)
        if narrowband:
            pytorch = torch_mfcc(torch.from_numpy(pcm.astype(np.float32) / 32768.0)[None])[0].numpy()
            allowed = max(1e-4, 3 * np.abs(pytorch - ref).max())
            assert err.max() <= allowed, f"{name}: max error {err.max():.2e} > {allowed:.2e}"
            assert_int8_rule(c_int8, quantize(ref, q), 0.97, name)
        else:
            assert (err <= 1e-4 + 1e-5 * np.abs(ref)).all(), f"{name}: max abs error {err.max():.2e}"
            assert_int8_rule(c_int8, quantize(ref, q), 0.995, name)
    # digital silence: every mel energy is 0, so c0 = sqrt(40) log(1e-6) and the int8 input clamps at -128
    c, c_int8 = c_mfcc(exe, out, np.zeros(16000, np.int16))
    np.testing.assert_allclose(c[:, 0], np.sqrt(40) * np.log(1e-6), rtol=1e-6)
    assert (c_int8[:, 0] == -128).all()


def test_float_input_equals_int16_input(built):
    """tz_mfcc_compute_f32 on x / 32768 is bit-identical to tz_mfcc_compute_s16 on x (the scale is a power of
    two, so exact), and a float tone at exactly full scale (+-1.0, beyond int16) stays within tolerance."""
    out, exe, manifest = built("kws/ds_cnn")
    pcm = np.fromfile(out / manifest["samples"][0]["pcm"], "<i2")
    (out / "x.f32").write_bytes((pcm.astype(np.float32) / 32768.0).astype("<f4").tobytes())
    run_cli(exe, "mfcc-f32", out / "x.f32", out / "xf.f32")
    run_cli(exe, "mfcc", out / manifest["samples"][0]["pcm"], out / "xs.f32")
    assert np.array_equal(np.fromfile(out / "xf.f32", "<f4"), np.fromfile(out / "xs.f32", "<f4"))
    t = np.arange(16000) / 16000
    square = np.where(np.sin(2 * np.pi * 250 * t) >= 0, 1.0, -1.0)
    (out / "sq.f32").write_bytes(square.astype("<f4").tobytes())
    run_cli(exe, "mfcc-f32", out / "sq.f32", out / "sq_out.f32")
    ref = mfcc_numpy(square, MfccConfig.from_dict(manifest["frontend"]))
    c = np.fromfile(out / "sq_out.f32", "<f4").reshape(ref.shape)
    assert (np.abs(c - ref) <= 1e-4 + 1e-5 * np.abs(ref)).all()


def test_rfft_matches_numpy(built):
    out, exe, _ = built("kws/ds_cnn")
    rng = np.random.default_rng(1)
    for x in (rng.standard_normal(1024), np.r_[np.hanning(640), np.zeros(384)], np.eye(1024)[3]):
        (out / "fft_in.f32").write_bytes(x.astype("<f4").tobytes())
        run_cli(exe, "rfft", out / "fft_in.f32", out / "fft_out.f32")
        c = np.fromfile(out / "fft_out.f32", "<f4").reshape(513, 2)
        ref = np.fft.rfft(x.astype(np.float32).astype(np.float64))
        # radix-2 float32: error ~ eps * log2(N) * ||x||; 1e-5 of the largest bin is a 10x margin
        scale = np.abs(ref).max()
        assert np.abs(c[:, 0] + 1j * c[:, 1] - ref).max() <= 1e-5 * scale


@pytest.mark.parametrize("model", KWS_MODELS)
def test_generated_mel_ranges_match_c(built, model):
    """The header's mel ranges (from NumPy's filterbank) are the ones tz_mfcc_init computes itself, and its exact
    workspace size equals tz_mfcc_workspace_floats."""
    out, exe, manifest = built(model)
    run_cli(exe, "mel-ranges", out / "ranges.txt")
    c_ranges = [tuple(map(int, line.split())) for line in (out / "ranges.txt").read_text().splitlines()]
    first, count = header_lines.mel_ranges(MfccConfig.from_dict(manifest["frontend"]))
    assert c_ranges == list(zip(first, count))
    assert sum(count) <= 2 * (1024 // 2 + 1)   # every bin is in at most two triangles: the generic bound holds


# --- MLPerf Tiny's front end (normalize: peak, mel_triangles: mel, dct: tf) ----------------------------------------

MLPERF_FRONTEND = {"type": "mfcc", "sample_rate": 16000, "window_ms": 30, "hop_ms": 20, "n_fft": 512, "n_mels": 40,
                   "f_min": 20, "f_max": 4000, "power": 1, "log_offset": 1e-6, "n_mfcc": 10, "normalize": "peak",
                   "mel_triangles": "mel", "dct": "tf"}


def header_for_frontend(out: Path, front: dict, model: str = "kws/ds_cnn") -> Path:
    """app_model.h of a published KWS model (its quantization, labels, config) with another MFCC front end."""
    metrics = json.loads((REPO / "zoo" / "artifacts" / model / "metrics.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    path = out / "app_model.h"
    path.write_text(app_header.render(metrics["config"], {**metrics, "frontend": front}, f"{model}, test front end"))
    return path


@pytest.fixture(scope="module")
def mlperf_cli(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlperf_frontend")
    text = header_for_frontend(out, MLPERF_FRONTEND).read_text()
    assert "cfg = {16000, 480, 320, 512, 40, 10, 20.0f, 4000.0f, 1.0f, " in text
    assert "first_bin, num_bins, TZ_MFCC_NORMALIZE, TZ_MFCC_MEL_TRIANGLES, TZ_MFCC_DCT};" in text
    assert "#define TZ_MFCC_NORMALIZE TZ_MFCC_NORMALIZE_PEAK" in text and "#define TZ_MFCC_DCT TZ_MFCC_DCT_TF" in text
    return out, compile_cli(out), MfccConfig.from_dict(MLPERF_FRONTEND)


def test_default_header_selects_todays_front_end(built):
    out, _, _ = built("kws/ds_cnn")
    text = (out / "app_model.h").read_text()
    for line in ("#define TZ_MFCC_NORMALIZE TZ_MFCC_NORMALIZE_NONE", "#define TZ_MFCC_MEL_TRIANGLES "
                 "TZ_MFCC_MEL_TRIANGLES_HZ", "#define TZ_MFCC_DCT TZ_MFCC_DCT_ORTHO"):
        assert line in text


def test_mlperf_mfcc_matches_float64_reference(built, mlperf_cli):
    """The C front end with MLPerf's options equals mfcc_numpy (float64) on the golden clips and the broadband edge
    signals, within the tolerance of the default front end; the mel ranges it computes are NumPy's."""
    out, exe, cfg = mlperf_cli
    golden_dir, _, manifest = built("kws/ds_cnn")
    signals = {s["name"]: np.fromfile(golden_dir / s["pcm"], "<i2") for s in manifest["samples"]}
    edges = edge_signals()
    signals.update({name: pcm.astype(np.int16) for name, (pcm, narrowband) in edges.items() if not narrowband})
    quiet = signals[manifest["samples"][0]["name"]]
    signals["same_clip_at_0.3x"] = np.rint(0.3 * quiet).astype(np.int16)
    signals["no_positive_sample"] = -np.abs(quiet)
    for name, pcm in signals.items():
        ref = mfcc_numpy(pcm / 32768.0, cfg)
        c, _ = c_mfcc(exe, out, pcm)
        assert ref.shape == c.shape == (49, 10)
        err = np.abs(c - ref)
        assert (err <= 1e-4 + 1e-5 * np.abs(ref)).all(), f"{name}: max abs error {err.max():.2e}"
        (out / "x.f32").write_bytes((pcm.astype(np.float32) / 32768.0).astype("<f4").tobytes())
        run_cli(exe, "mfcc-f32", out / "x.f32", out / "xf.f32")   # float input: its own peak, same result
        err = np.abs(np.fromfile(out / "xf.f32", "<f4").reshape(ref.shape) - ref)
        assert (err <= 1e-4 + 1e-5 * np.abs(ref)).all(), f"{name} (f32): max abs error {err.max():.2e}"
    torch_mfcc = MFCC(cfg)   # narrowband signals: the rule of test_mfcc_edge_signals (3x PyTorch's float32 error)
    for name, pcm in ((name, pcm.astype(np.int16)) for name, (pcm, narrowband) in edges.items() if narrowband):
        ref = mfcc_numpy(pcm / 32768.0, cfg)
        pytorch = torch_mfcc(torch.from_numpy(pcm.astype(np.float32) / 32768.0)[None])[0].numpy()
        err, allowed = np.abs(c_mfcc(exe, out, pcm)[0] - ref).max(), max(1e-4, 3 * np.abs(pytorch - ref).max())
        assert err <= allowed, f"{name}: max error {err:.2e} > {allowed:.2e}"
    # silence stays unnormalised: every mel energy 0, c0 = 40 log(1e-6) sqrt(2 / 40) with TF's DCT
    c, _ = c_mfcc(exe, out, np.zeros(16000, np.int16))
    np.testing.assert_allclose(c[:, 0], np.sqrt(80) * np.log(1e-6), rtol=1e-6)
    run_cli(exe, "mel-ranges", out / "ranges.txt")
    c_ranges = [tuple(map(int, line.split())) for line in (out / "ranges.txt").read_text().splitlines()]
    assert c_ranges == list(zip(*header_lines.mel_ranges(cfg)))


C_MLPERF_API_CHECK = r"""
#include <stdio.h>
#include "app_model.h"
int main(void) {
    static float ws[TZ_MFCC_WORKSPACE_FLOATS_EXACT];
    tz_mfcc m;
    tz_mfcc_config cfg = *tz_frontend_mfcc_config(), bad;
    int fails = 0;
#define EXPECT(cond) do { if (!(cond)) { printf("failed: %s\n", #cond); fails++; } } while (0)
    EXPECT(tz_mfcc_init(&m, &cfg, ws, TZ_MFCC_WORKSPACE_FLOATS_EXACT) == TZ_MFCC_OK);
    bad = cfg; bad.normalize = 2;
    EXPECT(tz_mfcc_init(&m, &bad, ws, TZ_MFCC_WORKSPACE_FLOATS_EXACT) == TZ_MFCC_ERR_CONFIG);
    bad = cfg; bad.mel_triangles = -1;
    EXPECT(tz_mfcc_init(&m, &bad, ws, TZ_MFCC_WORKSPACE_FLOATS_EXACT) == TZ_MFCC_ERR_CONFIG);
    bad = cfg; bad.dct = 7;
    EXPECT(tz_mfcc_init(&m, &bad, ws, TZ_MFCC_WORKSPACE_FLOATS_EXACT) == TZ_MFCC_ERR_CONFIG);
    int16_t pcm[4] = {-30000, 1000, 16384, -5};
    float x[4] = {-0.9f, 0.25f, 0.5f, 0.0f};
    EXPECT(tz_mfcc_clip_gain_s16(&cfg, pcm, 4) == 2.0f);    /* x / 32768 * 2 = x / 16384 */
    EXPECT(tz_mfcc_clip_gain_f32(&cfg, x, 4) == 2.0f);
    int16_t negative[2] = {-3, -1};
    EXPECT(tz_mfcc_clip_gain_s16(&cfg, negative, 2) == 1.0f && tz_mfcc_clip_gain_s16(&cfg, NULL, 0) == 1.0f);
    bad = cfg; bad.normalize = TZ_MFCC_NORMALIZE_NONE;
    EXPECT(tz_mfcc_clip_gain_s16(&bad, pcm, 4) == 1.0f && tz_mfcc_clip_gain_f32(&bad, x, 4) == 1.0f);
    /* the per-frame API with the clip's gain gives what tz_mfcc_compute_s16 gives */
    static int16_t clip[TZ_MFCC_CLIP_SAMPLES];
    for (int i = 0; i < TZ_MFCC_CLIP_SAMPLES; i++) clip[i] = (int16_t)((i * 7919) % 2001 - 1000);
    static float all[TZ_MFCC_NUM_FRAMES * TZ_MFCC_N_MFCC];
    float frame[TZ_MFCC_N_MFCC];
    EXPECT(tz_mfcc_init(&m, &cfg, ws, TZ_MFCC_WORKSPACE_FLOATS_EXACT) == TZ_MFCC_OK);   /* bad inits unset it */
    EXPECT(tz_mfcc_compute_s16(&m, clip, TZ_MFCC_CLIP_SAMPLES, all, TZ_MFCC_NUM_FRAMES * TZ_MFCC_N_MFCC, NULL) == 0);
    const float gain = tz_mfcc_clip_gain_s16(&cfg, clip, TZ_MFCC_CLIP_SAMPLES);
    EXPECT(tz_mfcc_frame_s16_gain(&m, clip + 5 * TZ_MFCC_HOP_LENGTH, gain, frame) == TZ_MFCC_OK);
    for (int k = 0; k < TZ_MFCC_N_MFCC; k++) EXPECT(frame[k] == all[5 * TZ_MFCC_N_MFCC + k]);
    return fails;
}
"""


def test_mlperf_c_api(mlperf_cli, tmp_path):
    out, _, _ = mlperf_cli
    run_c_check(C_MLPERF_API_CHECK, out, tmp_path)


# --- images --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", VISION_MODELS)
def test_image_preprocessing(built, model):
    out, exe, manifest = built(model)
    cfg, q = ImageConfig.from_dict(manifest["frontend"]), manifest["input_quantization"]
    pipeline = ImagePreprocess(cfg)
    resized = 0

    def chw(values):   # the C front end and the golden input write the program's layout (NHWC: interleaved)
        if q.get("layout") == "NHWC":
            return values.reshape(*cfg.size, 3).transpose(2, 0, 1)
        return values.reshape(3, *cfg.size)

    for s in manifest["samples"]:
        h, w = s["height"], s["width"]
        ref = np.fromfile(out / s["features"], "<f8").reshape(3, *cfg.size)
        run_cli(exe, "image", out / s["image"], h, w, out / "c.f32", out / "c.s8")
        c = chw(np.fromfile(out / "c.f32", "<f4"))
        c_int8 = chw(np.fromfile(out / "c.s8", "i1"))
        image = np.fromfile(out / s["image"], "u1").reshape(h, w, 3)
        torch_out = pipeline(torch.from_numpy(image).permute(2, 0, 1)[None])[0].numpy()
        assert_int8_rule(c_int8, chw(np.fromfile(out / s["input"], "i1")), 0.999, s["name"])
        if (h, w) == tuple(cfg.size):
            assert np.array_equal(c, torch_out), f"{s['name']}: not bit-identical to ImagePreprocess"
            assert np.abs(c - ref).max() <= 1e-6 * max(1.0, np.abs(ref).max())   # float32 of the values' range
            assert np.array_equal(c_int8, quantize(torch_out, q)), "int8 differs from the pipeline's"
        else:
            resized += 1
            bound = (2 * EPS32 * max(h, w) + 8 * EPS32) / min(cfg.std)
            assert np.abs(c - ref).max() <= bound, f"{s['name']}: {np.abs(c - ref).max():.2e} > {bound:.2e}"
            assert np.abs(c - torch_out).max() <= bound
            assert_int8_rule(c_int8, quantize(torch_out, q), 0.999, f"{s['name']} vs pipeline")
    assert resized == 1


# --- quantization --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def quarter_scale_cli(tmp_path_factory):
    """The harness built with input scale 0.25 and zero point 3: x * 4 is exact, so ties are exact .5s."""
    out = tmp_path_factory.mktemp("quantize")
    io = {"dtype": "int8", "scale": 0.25, "zero_point": 3, "qmin": -128, "qmax": 127}
    (out / "metrics.json").write_text(json.dumps({"quantization": {"io": {"input": io, "output": io}}}))
    app_header.generate(REPO / "recipes" / "kws" / "ds_cnn" / "config.yaml", out / "app_model.h",
                        out / "metrics.json")
    return out, compile_cli(out), io


def test_quantize_rounds_half_to_even_like_python(quarter_scale_cli):
    out, exe, q = quarter_scale_cli
    ties = np.arange(-200, 200) * 0.25 + 0.125            # x / 0.25 = k + 0.5 exactly
    rng = np.random.default_rng(2)
    x = np.concatenate([ties, rng.normal(0, 20, 5000), [-1e9, 1e9, -32.875, 31.125, 0.0, -0.0]]).astype(np.float32)
    (out / "q.f32").write_bytes(x.astype("<f4").tobytes())
    run_cli(exe, "quantize", out / "q.f32", out / "q.s8")
    c = np.fromfile(out / "q.s8", "i1")
    assert np.array_equal(c, quantize(x, q))
    # half to even, not away from zero: 0.125 / 0.25 = 0.5 -> 0 (+3), 0.375 / 0.25 = 1.5 -> 2 (+3)
    assert c[np.flatnonzero(ties == 0.125)[0]] == 3 and c[np.flatnonzero(ties == 0.375)[0]] == 5


def test_quantize_with_model_scale_is_bit_exact(built):
    out, exe, manifest = built("kws/ds_cnn")
    x = np.random.default_rng(3).normal(-10, 15, 20000).astype(np.float32)
    (out / "q.f32").write_bytes(x.astype("<f4").tobytes())
    run_cli(exe, "quantize", out / "q.f32", out / "q.s8")
    assert np.array_equal(np.fromfile(out / "q.s8", "i1"), quantize(x, manifest["input_quantization"]))


# --- post-processing -----------------------------------------------------------------------------------------

def kws_logit_sequence(num_classes: int, seed: int = 4) -> np.ndarray:
    """int8 logits of 48 results: silence, then "yes" for 5 results, a 2-result "no" (too short to reach the
    threshold), "stop" held for 9 results (fires twice with refractory 3), "_unknown_" (ignored), silence."""
    spans = [(0, 8, 0), (8, 13, 2), (13, 20, 0), (20, 22, 3), (22, 28, 0), (28, 37, 10), (37, 40, 0), (40, 45, 1),
             (45, 48, 0)]
    rng = np.random.default_rng(seed)
    logits = rng.integers(-60, -40, (48, num_classes))
    for start, stop, cls in spans:
        logits[start:stop, cls] = rng.integers(100, 127, stop - start)
    return logits.astype(np.int8)


def python_kws(logits: np.ndarray, out_q: dict, cfg: KwsPostprocess):
    smoother = KwsSmoother(cfg)
    return [smoother.push(softmax(dequantize(row, out_q))) for row in logits]


@pytest.mark.parametrize("window,threshold,refractory", [(3, 0.7, 3), (1, 0.5, 0), (5, 0.6, 10)])
def test_kws_postprocess_matches_python(built, window, threshold, refractory):
    out, exe, _ = built("kws/ds_cnn")
    metrics = json.loads((REPO / "zoo" / "artifacts" / "kws" / "ds_cnn" / "metrics.json").read_text())
    labels, out_q = metrics["labels"], metrics["quantization"]["io"]["output"]
    logits = kws_logit_sequence(len(labels))
    (out / "logits.s8").write_bytes(logits.tobytes())
    run_cli(exe, "kws", out / "logits.s8", len(logits), window, threshold, refractory, out / "kws.txt")
    c = [line.split() for line in (out / "kws.txt").read_text().splitlines()]
    cfg = KwsPostprocess.for_labels(labels, {"window": window, "threshold": threshold, "refractory": refractory})
    py = python_kws(logits, out_q, cfg)
    assert min(abs(r.score - threshold) for r in py) > 1e-4, "test sequence too close to the threshold"
    assert [(int(i), int(k), bool(int(d))) for i, k, _, d in c] == [(r.index, r.class_index, r.detected) for r in py]
    np.testing.assert_allclose([float(s) for _, _, s, _ in c], [r.score for r in py], atol=1e-5)
    detections = [(r.index, labels[r.class_index]) for r in py if r.detected]
    assert all(name not in ("_silence_", "_unknown_") for _, name in detections)
    if (window, threshold, refractory) == (3, 0.7, 3):   # the recipe default: what an app reports
        assert detections == [(10, "yes"), (30, "stop"), (34, "stop")]


@pytest.mark.parametrize("model", KWS_MODELS)
def test_header_kws_settings_are_python_s(tmp_path, model):
    """The app's KWS settings come from common.postprocess.KwsPostprocess (one definition for Python, C, docs),
    with the recipe's `postprocess:` overrides applied."""
    metrics = json.loads((REPO / "zoo" / "artifacts" / model / "metrics.json").read_text())
    text = app_header.generate(REPO / "zoo" / "artifacts" / model, tmp_path / "app_model.h").read_text()
    post = KwsPostprocess.for_labels(metrics["labels"], metrics["config"].get("postprocess"))
    assert (f"{{{len(metrics['labels'])}, {post.window}, {header_lines.c_float(post.threshold)}, {post.refractory}, "
            f"0x{post.ignore_mask():08x}u}}") in text
    assert f"#define TZ_KWS_REFRACTORY {post.refractory}\n" in text and post.refractory == 3
    cfg = {**metrics["config"], "postprocess": {"refractory": 5, "threshold": 0.6}}
    text = app_header.render(cfg, metrics, "test")
    assert "#define TZ_KWS_REFRACTORY 5\n" in text and "#define TZ_KWS_THRESHOLD 0.6f\n" in text


@pytest.mark.parametrize("model", ["vision/resnet8_cifar10", "vision/mobilenet_vww"])
def test_top_k_matches_python(built, model):
    out, exe, manifest = built(model)
    metrics = json.loads((REPO / "zoo" / "artifacts" / model / "metrics.json").read_text())
    labels, out_q = manifest["labels"], metrics["quantization"]["io"]["output"]
    rng = np.random.default_rng(5)
    cases = [rng.integers(-128, 128, len(labels)).astype(np.int8) for _ in range(5)]
    tie = rng.integers(-128, 0, len(labels)).astype(np.int8)
    tie[[0, len(labels) - 1]] = 90                   # equal top scores: the lower index comes first
    for logits in [*cases, tie]:
        (out / "topk.s8").write_bytes(logits.tobytes())
        run_cli(exe, "topk", out / "topk.s8", 3, out / "topk.txt")
        c = [line.split(maxsplit=2) for line in (out / "topk.txt").read_text().splitlines()]
        py = top_k(softmax(dequantize(logits, out_q)), 3, labels)
        assert [(int(i), lab) for i, _, lab in c] == [(i, lab) for i, _, lab in py]
        np.testing.assert_allclose([float(s) for _, s, _ in c], [s for _, s, _ in py], atol=1e-6)
    assert int(c[0][0]) == 0 and int(c[1][0]) == len(labels) - 1


# --- errors, API checks and the Cortex-M build ----------------------------------------------------------------

def test_bad_inputs_get_clear_errors(built, tmp_path):
    out, exe, _ = built("kws/ds_cnn")
    (tmp_path / "short.s16").write_bytes(np.zeros(100, "<i2").tobytes())
    result = run_cli(exe, "mfcc", tmp_path / "short.s16", tmp_path / "o.f32", ok=False)
    assert result.returncode != 0 and "fewer samples than one window" in result.stderr
    vout, vexe, _ = built("vision/mobilenet_vww")
    (tmp_path / "img.u8").write_bytes(bytes(100))
    result = run_cli(vexe, "image", tmp_path / "img.u8", 96, 96, tmp_path / "o.f32", ok=False)
    assert result.returncode != 0 and "H * W * 3" in result.stderr
    (tmp_path / "bad.yaml").write_text("model: {name: x/y}\n")
    assert app_header.main([str(tmp_path / "bad.yaml"), "-o", str(tmp_path / "h.h")]) == 2
    assert golden.main(["kws/nope", "-o", str(tmp_path / "g")]) == 2


C_API_CHECK = r"""
#include <stdio.h>
#include "app_model.h"
#include "tz_image.h"
#include "tz_postprocess.h"
int main(void) {
    static float ws[TZ_MFCC_WORKSPACE_FLOATS(640, 1024, 40, 10, TZ_MFCC_MEL_WEIGHTS_BOUND(1024))];
    tz_mfcc m;
    tz_mfcc_config cfg = *tz_frontend_mfcc_config();
    int fails = 0;
    size_t need = tz_mfcc_workspace_floats(&cfg);
#define EXPECT(cond) do { if (!(cond)) { printf("failed: %s\n", #cond); fails++; } } while (0)
    EXPECT(need == TZ_MFCC_WORKSPACE_FLOATS_EXACT);
    EXPECT(tz_mfcc_init(&m, &cfg, ws, need - 1) == TZ_MFCC_ERR_WORKSPACE);
    EXPECT(tz_mfcc_init(&m, &cfg, ws, sizeof ws / sizeof ws[0]) == TZ_MFCC_OK);
    float out[10];
    int16_t pcm[640] = {0};
    EXPECT(tz_mfcc_frame_s16(&m, pcm, out) == TZ_MFCC_OK);
    tz_mfcc_config bad = cfg;
    bad.n_fft = 1000;
    EXPECT(tz_mfcc_init(&m, &bad, ws, sizeof ws / sizeof ws[0]) == TZ_MFCC_ERR_NFFT);
    EXPECT(tz_mfcc_frame_s16(&m, pcm, out) == TZ_MFCC_ERR_NOT_INIT);   /* a failed init leaves it unusable */
    bad = cfg;
    bad.f_max = 9000.0f;
    EXPECT(tz_mfcc_init(&m, &bad, ws, sizeof ws / sizeof ws[0]) == TZ_MFCC_ERR_CONFIG);
    EXPECT(tz_mfcc_num_frames(&cfg, 16000) == 49 && tz_mfcc_num_frames(&cfg, 639) == 0);
    tz_image_config icfg = {32, 32, {0.5f, 0.5f, 0.5f}, {0.5f, 0.0f, 0.5f}, 0};
    uint8_t px[3] = {0, 0, 0};
    float f[3 * 32 * 32];
    EXPECT(tz_image_preprocess(&icfg, px, 1, 1, f) == TZ_IMAGE_ERR_CONFIG);
    tz_kws_smoother s;
    tz_kws_config k = *tz_frontend_kws_config();
    k.window = TZ_KWS_MAX_WINDOW + 1;
    EXPECT(tz_kws_init(&s, &k) == TZ_POST_ERR_CONFIG);
    printf("%s\n", tz_mfcc_error_message(TZ_MFCC_ERR_WORKSPACE));
    return fails;
}
"""


def run_c_check(source: str, header_dir, tmp_path) -> str:
    """Compile a C check against the front end and a generated app_model.h, run it; it must exit 0. Its output."""
    (tmp_path / "api.c").write_text(source)
    exe = tmp_path / "api"
    build = subprocess.run(["cc", *CFLAGS, f"-I{header_dir}", f"-I{FRONTEND}", str(tmp_path / "api.c"),
                            *map(str, C_SOURCES), "-lm", "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    result = subprocess.run([str(exe)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    return result.stdout


def test_c_api_checks_its_arguments(built, tmp_path):
    out, _, _ = built("kws/ds_cnn")
    assert "TZ_MFCC_WORKSPACE_FLOATS_EXACT" in run_c_check(C_API_CHECK, out, tmp_path)   # the message names the fix


def test_headers_compile_as_cpp17(built, tmp_path):
    if shutil.which("c++") is None:
        pytest.skip("no C++ compiler")
    for model in ("kws/ds_cnn", "vision/mobilenet_vww"):
        out, _, _ = built(model)
        (tmp_path / "app.cpp").write_text('#include "app_model.h"\n#include "tz_postprocess.h"\n'
                                          "int main() { return 0; }\n")
        result = subprocess.run(["c++", "-std=c++17", "-Wall", "-Wextra", "-Werror", f"-I{out}", f"-I{FRONTEND}",
                                 "-fsyntax-only", str(tmp_path / "app.cpp")], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def cortex_m_flags() -> dict[str, list[str]]:
    """-mcpu for M55; M85 by name where the compiler knows it (GCC >= 13), otherwise its ISA (Armv8.1-M + MVE,
    what Debian's GCC 12 and ExecuTorch's toolchain file, which maps cortex-m85 to -mcpu=cortex-m55, build)."""
    probe = subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m85", "-mthumb", "-E", "-x", "c", "-"], input="",
                           capture_output=True, text=True)
    m85 = ["-mcpu=cortex-m85"] if probe.returncode == 0 else ["-march=armv8.1-m.main+mve.fp+fp.dp"]
    return {"cortex-m55": ["-mcpu=cortex-m55"], "cortex-m85": m85}


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("model", ["kws/ds_cnn", "vision/mobilenet_vww"])
def test_compiles_for_cortex_m(built, model, tmp_path):
    out, _, _ = built(model)
    for cpu, flags in cortex_m_flags().items():
        for src in [*C_SOURCES, FRONTEND / "tests" / "frontend_cli.c"]:
            cmd = ["arm-none-eabi-gcc", *flags, "-mthumb", "-mfloat-abi=hard", *CFLAGS, f"-I{out}", f"-I{FRONTEND}",
                   "-c", str(src), "-o", str(tmp_path / f"{src.stem}.{cpu}.o")]
            result = subprocess.run(cmd, capture_output=True, text=True)
            assert result.returncode == 0, f"{cpu}: {' '.join(cmd)}\n{result.stderr}"
