/*
 * tz_image.c — see tz_image.h. Operation order follows PyTorch's float32 path on purpose: x / 255 per pixel
 * first (a division, as images.float() / 255.0), then the bilinear blend, then (x - mean) / std (a subtraction
 * and a division, not a multiply by 1/std), so that at the model's size every output is bit-identical.
 */
#include "tz_image.h"

/* Source coordinate and blend weights along one axis, as PyTorch's upsample_bilinear2d with align_corners=False:
 * src = max(scale * (dst + 0.5) - 0.5, 0) with scale = in / out in float, i1 = i0 + 1 except at the last pixel. */
typedef struct {
    int32_t i0, i1;
    float w0, w1;
} axis_tap;

static axis_tap axis_taps(int32_t dst, int32_t in_size, int32_t out_size)
{
    axis_tap t;
    const float scale = (float)in_size / (float)out_size;
    float src = scale * ((float)dst + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    t.i0 = (int32_t)src;
    t.i1 = t.i0 + (t.i0 < in_size - 1 ? 1 : 0);
    float lambda = src - (float)t.i0;
    if (lambda < 0.0f) lambda = 0.0f;
    if (lambda > 1.0f) lambda = 1.0f;
    t.w1 = lambda;
    t.w0 = 1.0f - lambda;
    return t;
}

static float unit(uint8_t v) { return (float)v / 255.0f; }

static int check(const tz_image_config *cfg, const uint8_t *src, int32_t src_h, int32_t src_w, const void *out)
{
    if (cfg == NULL || src == NULL || out == NULL) return TZ_IMAGE_ERR_NULL;
    if (cfg->height <= 0 || cfg->width <= 0 || !(cfg->std[0] > 0.0f) || !(cfg->std[1] > 0.0f) ||
        !(cfg->std[2] > 0.0f))
        return TZ_IMAGE_ERR_CONFIG;
    if (src_h <= 0 || src_w <= 0) return TZ_IMAGE_ERR_SOURCE;
    return TZ_IMAGE_OK;
}

/* Writes float output (out_f) or int8 output (out_q with q); exactly one of them is non-NULL. */
static void run(const tz_image_config *cfg, const uint8_t *src, int32_t src_h, int32_t src_w, float *out_f,
                const tz_qparams *q, int8_t *out_q)
{
    const int32_t H = cfg->height, W = cfg->width;
    const int resize = (src_h != H) || (src_w != W);
    const float inv_scale = q != NULL ? tz_inv_scale(q->scale) : 0.0f;
    for (int32_t y = 0; y < H; y++) {
        const axis_tap ty = resize ? axis_taps(y, src_h, H) : (axis_tap){y, y, 1.0f, 0.0f};
        for (int32_t x = 0; x < W; x++) {
            const axis_tap tx = resize ? axis_taps(x, src_w, W) : (axis_tap){x, x, 1.0f, 0.0f};
            for (int c = 0; c < 3; c++) {
                float v;
                if (resize) {   /* PyTorch's order: blend along width, then along height */
                    const uint8_t *r0 = src + (size_t)ty.i0 * (size_t)src_w * 3, *r1 = src + (size_t)ty.i1 * (size_t)src_w * 3;
                    const float top = unit(r0[tx.i0 * 3 + c]) * tx.w0 + unit(r0[tx.i1 * 3 + c]) * tx.w1;
                    const float bottom = unit(r1[tx.i0 * 3 + c]) * tx.w0 + unit(r1[tx.i1 * 3 + c]) * tx.w1;
                    v = top * ty.w0 + bottom * ty.w1;
                } else {
                    v = unit(src[((size_t)y * (size_t)W + (size_t)x) * 3 + c]);
                }
                v = (v - cfg->mean[c]) / cfg->std[c];
                const size_t o = cfg->nhwc ? ((size_t)y * (size_t)W + (size_t)x) * 3 + (size_t)c
                                           : ((size_t)c * (size_t)H + (size_t)y) * (size_t)W + (size_t)x;
                if (out_f != NULL)
                    out_f[o] = v;
                else
                    out_q[o] = tz_quantize_one(v, inv_scale, q);
            }
        }
    }
}

int tz_image_preprocess(const tz_image_config *cfg, const uint8_t *rgb_hwc, int32_t src_height, int32_t src_width,
                        float *out_chw)
{
    int status = check(cfg, rgb_hwc, src_height, src_width, out_chw);
    if (status == TZ_IMAGE_OK) run(cfg, rgb_hwc, src_height, src_width, out_chw, NULL, NULL);
    return status;
}

int tz_image_to_s8(const tz_image_config *cfg, const uint8_t *rgb_hwc, int32_t src_height, int32_t src_width,
                   const tz_qparams *q, int8_t *out_chw)
{
    int status = check(cfg, rgb_hwc, src_height, src_width, out_chw);
    if (status == TZ_IMAGE_OK && q == NULL) status = TZ_IMAGE_ERR_NULL;
    if (status == TZ_IMAGE_OK) run(cfg, rgb_hwc, src_height, src_width, NULL, q, out_chw);
    return status;
}

const char *tz_image_error_message(int status)
{
    switch (status) {
    case TZ_IMAGE_OK: return "ok";
    case TZ_IMAGE_ERR_NULL: return "tz_image: a required pointer is NULL; pass the config, image, output (and qparams)";
    case TZ_IMAGE_ERR_CONFIG:
        return "tz_image: config needs height, width > 0 and every std > 0; regenerate app_model.h from the "
               "recipe config";
    case TZ_IMAGE_ERR_SOURCE: return "tz_image: the source image needs height and width > 0";
    default: return "tz_image: unknown status code";
    }
}
