/*
 * tz_image — the tinyzoo image front end in C99 float32, the same steps as common/frontend/image.py
 * (ImagePreprocess, float64 reference `preprocess_numpy`):
 *
 *   interleaved uint8 RGB (H, W, 3), as a camera or a decoded file gives it
 *   -> x / 255
 *   -> bilinear resize to the model's (height, width) if the source size differs
 *      (torch.nn.functional.interpolate, mode="bilinear", align_corners=False, no antialias)
 *   -> (x - mean[c]) / std[c] per channel
 *   -> planar NCHW (3, height, width), or interleaved NHWC (height, width, 3) when the program takes its input
 *      channels-last (the recipe's `export.input_layout: NHWC`), channel order RGB.
 *
 * At the model's size the arithmetic is the same float32 operations in the same order as the PyTorch front
 * end, so the result is bit-identical to it (and within 1e-6 of the float64 reference); with a resize it is
 * within 1e-6 of PyTorch's (weights computed the way PyTorch computes them, sums in a slightly different order).
 *
 * Two entry points: float output (3 * height * width floats) or straight to the model's int8 input (the fused
 * form needs no float buffer — 108 KiB saved for a 96x96 RGB model):
 *
 *     #include "app_model.h"                                     // common/firmware/app_header.py
 *     static const tz_qparams q = TZ_INPUT_QPARAMS;
 *     int err = tz_image_to_s8(tz_frontend_image_config(), camera_rgb, cam_h, cam_w, &q, model_input);
 *     if (err) printf("%s\n", tz_image_error_message(err));
 *
 * No allocation, no state; safe to call from any context.
 */
#ifndef TZ_IMAGE_H
#define TZ_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "tz_quantize.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The recipe's `frontend:` section (type: image; channel_order RGB) and its program's input layout. */
typedef struct {
    int32_t height;   /* the model's input height */
    int32_t width;    /* the model's input width */
    float mean[3];    /* per channel, R G B, on the [0, 1] scale */
    float std[3];
    int32_t nhwc;     /* 0: planar (3, height, width); 1: interleaved (height, width, 3) */
} tz_image_config;

enum {
    TZ_IMAGE_OK = 0,
    TZ_IMAGE_ERR_NULL = -1,     /* a required pointer is NULL */
    TZ_IMAGE_ERR_CONFIG = -2,   /* height/width <= 0 or a std <= 0 */
    TZ_IMAGE_ERR_SOURCE = -3    /* source height/width <= 0 */
};

/* out_chw: 3 * cfg->height * cfg->width floats, planar R then G then B (interleaved RGB with cfg->nhwc). */
int tz_image_preprocess(const tz_image_config *cfg, const uint8_t *rgb_hwc, int32_t src_height, int32_t src_width,
                        float *out_chw);

/* The same, quantized with q (the model's input parameters) into 3 * height * width int8 values. */
int tz_image_to_s8(const tz_image_config *cfg, const uint8_t *rgb_hwc, int32_t src_height, int32_t src_width,
                   const tz_qparams *q, int8_t *out_chw);

const char *tz_image_error_message(int status);

#ifdef __cplusplus
}
#endif

#endif /* TZ_IMAGE_H */
