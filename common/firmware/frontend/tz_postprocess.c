/* tz_postprocess.c — see tz_postprocess.h; common/postprocess.py is the reference for every rule here. */
#include "tz_postprocess.h"

#include <math.h>
#include <string.h>

void tz_softmax(const float *logits, size_t n, float *out)
{
    if (logits == NULL || out == NULL || n == 0) return;
    float max = logits[0];
    for (size_t i = 1; i < n; i++)
        if (logits[i] > max) max = logits[i];
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        out[i] = expf(logits[i] - max);   /* max subtracted: no overflow, the largest term is exactly 1 */
        sum += out[i];
    }
    for (size_t i = 0; i < n; i++) out[i] /= sum;
}

size_t tz_top_k(const float *scores, size_t n, size_t k, const char *const *labels, tz_class_score *out)
{
    if (scores == NULL || out == NULL) return 0;
    if (k > n) k = n;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        /* Insertion into the sorted list; strict '>' keeps the earlier (lower) index ahead on ties. */
        size_t pos = used;
        while (pos > 0 && scores[i] > out[pos - 1].score) pos--;
        if (pos >= k) continue;
        size_t last = used < k ? used : k - 1;
        for (size_t j = last; j > pos; j--) out[j] = out[j - 1];
        out[pos].index = (int32_t)i;
        out[pos].score = scores[i];
        out[pos].label = labels != NULL ? labels[i] : NULL;
        if (used < k) used++;
    }
    return used;
}

int tz_kws_init(tz_kws_smoother *s, const tz_kws_config *cfg)
{
    if (s == NULL || cfg == NULL) return TZ_POST_ERR_NULL;
    if (cfg->num_classes < 1 || cfg->num_classes > TZ_KWS_MAX_CLASSES || cfg->window < 1 ||
        cfg->window > TZ_KWS_MAX_WINDOW || !(cfg->threshold > 0.0f && cfg->threshold <= 1.0f) || cfg->refractory < 0)
        return TZ_POST_ERR_CONFIG;
    s->cfg = *cfg;
    tz_kws_reset(s);
    return TZ_POST_OK;
}

void tz_kws_reset(tz_kws_smoother *s)
{
    if (s == NULL) return;
    memset(s->history, 0, sizeof s->history);
    s->filled = 0;
    s->next = 0;
    s->suppress_left = 0;
    s->count = 0;
}

int tz_kws_push(tz_kws_smoother *s, const float *posteriors, tz_kws_result *out)
{
    if (s == NULL || posteriors == NULL || out == NULL) return TZ_POST_ERR_NULL;
    const tz_kws_config *c = &s->cfg;
    if (c->num_classes < 1 || c->window < 1) return TZ_POST_ERR_CONFIG;   /* tz_kws_init not called */
    memcpy(s->history[s->next], posteriors, (size_t)c->num_classes * sizeof(float));
    s->next = (s->next + 1) % c->window;
    if (s->filled < c->window) s->filled++;

    /* Mean of the stored results, oldest first (the order NumPy's mean over the window uses for small
     * windows), recomputed each time rather than kept as a running sum that would drift in float. */
    const int32_t oldest = (s->next - s->filled + c->window) % c->window;
    int32_t best = 0;
    float best_score = 0.0f;
    for (int32_t k = 0; k < c->num_classes; k++) {
        float sum = 0.0f;
        for (int32_t i = 0; i < s->filled; i++) sum += s->history[(oldest + i) % c->window][k];
        const float mean = sum / (float)s->filled;
        if (k == 0 || mean > best_score) {   /* first maximum, as np.argmax */
            best = k;
            best_score = mean;
        }
    }
    out->index = s->count++;
    out->class_index = best;
    out->score = best_score;
    out->detected = 0;
    if (s->suppress_left > 0) {
        s->suppress_left--;
    } else if (!((c->ignore_mask >> best) & 1u) && best_score >= c->threshold) {
        out->detected = 1;
        s->suppress_left = c->refractory;
    }
    return TZ_POST_OK;
}

const char *tz_postprocess_error_message(int status)
{
    switch (status) {
    case TZ_POST_OK: return "ok";
    case TZ_POST_ERR_NULL: return "tz_postprocess: a required pointer is NULL";
    case TZ_POST_ERR_CONFIG:
        return "tz_postprocess: KWS config needs 1 <= num_classes <= 32, 1 <= window <= TZ_KWS_MAX_WINDOW, "
               "0 < threshold <= 1 and refractory >= 0 (raise TZ_KWS_MAX_WINDOW for longer windows)";
    default: return "tz_postprocess: unknown status code";
    }
}
