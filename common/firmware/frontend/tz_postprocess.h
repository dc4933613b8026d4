/*
 * tz_postprocess — what an app does with the model's output, in C99 float32; common/postprocess.py is the same
 * logic in NumPy (one definition for docs and tests; tests/test_firmware_frontend.py checks they agree).
 *
 * Vision: softmax, then the top k classes with their labels.
 *
 *     float p[NUM_CLASSES];
 *     tz_dequantize_s8(model_out, NUM_CLASSES, &out_q, p);        // tz_quantize.h
 *     tz_softmax(p, NUM_CLASSES, p);
 *     tz_class_score top[3];
 *     size_t n = tz_top_k(p, NUM_CLASSES, 3, labels, top);        // top[0].label, top[0].score, ...
 *
 * Keyword spotting: a keyword model runs on a sliding window of audio (e.g. 1 s, a new result every few
 * hundred ms), and one utterance shows up in several consecutive results. As in Arm's KWS examples
 * (ML-KWS-for-MCU's averaging window, ML-Embedded-Evaluation-Kit's 0.7 score threshold), the app
 *   1. averages the softmax posteriors of the last `window` results (fewer until `window` have arrived),
 *   2. takes the top class of that average; it is a detection when its averaged posterior >= `threshold` and
 *      the class is not ignored (bit c of `ignore_mask`: e.g. _silence_ and _unknown_),
 *   3. after a detection, reports nothing for the next `refractory` results, so one utterance fires once.
 *
 *     static tz_kws_smoother kws;
 *     tz_kws_init(&kws, tz_frontend_kws_config());                // app_model.h, or fill one in
 *     ... every inference:  softmax of the dequantized logits -> p
 *     tz_kws_result r;
 *     tz_kws_push(&kws, p, &r);
 *     if (r.detected) printf("%s %.2f at result %u\n", labels[r.class_index], r.score, (unsigned)r.index);
 *
 * No allocation; the smoother's history lives in the struct (TZ_KWS_MAX_WINDOW x TZ_KWS_MAX_CLASSES floats).
 */
#ifndef TZ_POSTPROCESS_H
#define TZ_POSTPROCESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef TZ_KWS_MAX_WINDOW
#define TZ_KWS_MAX_WINDOW 16
#endif
#define TZ_KWS_MAX_CLASSES 32   /* ignore_mask has one bit per class */

enum {
    TZ_POST_OK = 0,
    TZ_POST_ERR_NULL = -1,     /* a required pointer is NULL */
    TZ_POST_ERR_CONFIG = -2    /* num_classes, window, threshold or refractory out of range */
};

/* softmax(x) = exp(x - max) / sum; out may be the same array as logits. n >= 1. */
void tz_softmax(const float *logits, size_t n, float *out);

typedef struct {
    int32_t index;       /* class index */
    float score;
    const char *label;   /* labels[index], or NULL when no labels were given */
} tz_class_score;

/* The min(k, n) highest scores, highest first; equal scores keep the lower class index first (as a stable
 * sort). labels may be NULL. Returns the number written to out. */
size_t tz_top_k(const float *scores, size_t n, size_t k, const char *const *labels, tz_class_score *out);

typedef struct {
    int32_t num_classes;    /* 1 .. TZ_KWS_MAX_CLASSES */
    int32_t window;         /* results averaged, 1 .. TZ_KWS_MAX_WINDOW */
    float threshold;        /* averaged posterior the top class needs, in (0, 1] */
    int32_t refractory;     /* results suppressed after a detection, >= 0 */
    uint32_t ignore_mask;   /* bit c set: class c never fires (e.g. _silence_, _unknown_) */
} tz_kws_config;

typedef struct {
    int32_t detected;       /* 1 if this result is a detection */
    int32_t class_index;    /* top class of the averaged posteriors (set on every result) */
    float score;            /* its averaged posterior */
    uint32_t index;         /* 0-based count of results pushed before this one */
} tz_kws_result;

typedef struct {
    tz_kws_config cfg;
    float history[TZ_KWS_MAX_WINDOW][TZ_KWS_MAX_CLASSES];
    int32_t filled;         /* results in history, <= window */
    int32_t next;           /* slot the next result goes to */
    int32_t suppress_left;  /* results still suppressed after the last detection */
    uint32_t count;         /* results pushed since init/reset */
} tz_kws_smoother;

int tz_kws_init(tz_kws_smoother *s, const tz_kws_config *cfg);
void tz_kws_reset(tz_kws_smoother *s);
/* posteriors: num_classes softmax outputs of one inference. */
int tz_kws_push(tz_kws_smoother *s, const float *posteriors, tz_kws_result *out);

const char *tz_postprocess_error_message(int status);

#ifdef __cplusplus
}
#endif

#endif /* TZ_POSTPROCESS_H */
