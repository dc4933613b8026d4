/*
 * tz_quantize — float <-> int8 with a per-tensor scale and zero point, bit-exact with the Python side:
 *
 *   quantize:   q = clamp(round_half_even(x * inv_scale) + zero_point, qmin, qmax)
 *               inv_scale = (float)(1.0 / scale), the product x * inv_scale in float32
 *   dequantize: x = (float)(q - zero_point) * scale
 *
 * which is what common/verify.py `quantize` / `dequantize` compute (torch.round rounds half to even; torch
 * multiplies a float32 tensor by the Python-float 1/scale in float32) and what ExecuTorch's
 * quantized_decomposed.quantize_per_tensor does. Rounding half away from zero (roundf, or (int)(x + 0.5f))
 * would differ by 1 LSB wherever x / scale lands exactly on .5, so it is spelled out here rather than left to
 * the C library's rounding mode.
 *
 * The parameters are the model's `quantization.io.input` (or `.output`) from metrics.json; the generated
 * app_model.h gives them as TZ_INPUT_QPARAMS / TZ_OUTPUT_QPARAMS. The scales in metrics.json are
 * float32 values, so `float scale` loses nothing and 1.0 / (double)scale equals Python's 1.0 / scale.
 *
 * Header only; needs <math.h> (floorf).
 */
#ifndef TZ_QUANTIZE_H
#define TZ_QUANTIZE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float scale;
    int32_t zero_point;
    int32_t qmin;   /* -128 for int8 */
    int32_t qmax;   /*  127 for int8 */
} tz_qparams;

/* Round to nearest, ties to even, independent of the FPU rounding mode. v - floorf(v) is exact in float. */
static inline float tz_round_half_even(float v)
{
    const float f = floorf(v);
    const float d = v - f;
    if (d > 0.5f) return f + 1.0f;
    if (d < 0.5f) return f;
    return (fmodf(f, 2.0f) == 0.0f) ? f : f + 1.0f;
}

/* 1 / scale as Python computes it (double), then rounded to float as torch uses it. */
static inline float tz_inv_scale(float scale) { return (float)(1.0 / (double)scale); }

static inline int8_t tz_quantize_one(float x, float inv_scale, const tz_qparams *q)
{
    if (x != x) return (int8_t)q->zero_point;   /* NaN: the zero point rather than undefined behaviour */
    float v = tz_round_half_even(x * inv_scale) + (float)q->zero_point;
    if (v < (float)q->qmin) v = (float)q->qmin;
    if (v > (float)q->qmax) v = (float)q->qmax;
    return (int8_t)v;
}

/* out[i] = quantize(in[i]) for i < n. in and out may not overlap. */
static inline void tz_quantize_s8(const float *in, size_t n, const tz_qparams *q, int8_t *out)
{
    const float inv_scale = tz_inv_scale(q->scale);
    for (size_t i = 0; i < n; i++) out[i] = tz_quantize_one(in[i], inv_scale, q);
}

static inline float tz_dequantize_one(int8_t v, const tz_qparams *q)
{
    return (float)((int32_t)v - q->zero_point) * q->scale;
}

/* out[i] = dequantize(in[i]) for i < n. */
static inline void tz_dequantize_s8(const int8_t *in, size_t n, const tz_qparams *q, float *out)
{
    for (size_t i = 0; i < n; i++) out[i] = tz_dequantize_one(in[i], q);
}

#ifdef __cplusplus
}
#endif

#endif /* TZ_QUANTIZE_H */
