/*
 * tz_mfcc.c — see tz_mfcc.h. Every table is computed once, in double, from the same formulas as
 * common/frontend/mfcc.py (hann_window, mel_filterbank, dct_matrix) and stored as float; the per-frame work
 * is float32 only, so a Cortex-M with a single-precision FPU runs it at full speed.
 */
#include "tz_mfcc.h"

#include <math.h>
#include <string.h>

#define TZ_PI 3.14159265358979323846

static int is_power_of_two(int32_t n) { return n > 0 && (n & (n - 1)) == 0; }

static int check_config(const tz_mfcc_config *c)
{
    if (c->sample_rate <= 0 || c->win_length <= 0 || c->hop_length <= 0 || c->n_mels <= 0 || c->n_mfcc <= 0 ||
        c->n_mfcc > c->n_mels || c->n_mels > TZ_MFCC_MAX_MELS || !(c->f_min >= 0.0f) || !(c->f_max > c->f_min) ||
        c->f_max > 0.5f * (float)c->sample_rate || !(c->power > 0.0f) || !(c->log_offset > 0.0f) ||
        (c->normalize != TZ_MFCC_NORMALIZE_NONE && c->normalize != TZ_MFCC_NORMALIZE_PEAK) ||
        (c->mel_triangles != TZ_MFCC_MEL_TRIANGLES_HZ && c->mel_triangles != TZ_MFCC_MEL_TRIANGLES_MEL) ||
        (c->dct != TZ_MFCC_DCT_ORTHO && c->dct != TZ_MFCC_DCT_TF))
        return TZ_MFCC_ERR_CONFIG;
    if (!is_power_of_two(c->n_fft) || c->n_fft < 4 || c->n_fft > 65536 || c->n_fft < c->win_length)
        return TZ_MFCC_ERR_NFFT;
#ifdef TZ_MFCC_USE_CMSIS_DSP
    if (c->n_fft < 32 || c->n_fft > 4096) return TZ_MFCC_ERR_NFFT;   /* arm_rfft_fast_f32's sizes */
#endif
    return TZ_MFCC_OK;
}

/* --- mel filterbank, as mel_filterbank() in mfcc.py ----------------------------------------------------------
 * mel_triangles HZ: HTK mel, triangles over linear frequency (edges and bins in Hz).
 * mel_triangles MEL: tf.signal.linear_to_mel_weight_matrix (edges and bins in mel, 1127 ln(1 + f/700), DC 0). */

static double hz_to_mel(double hz) { return 2595.0 * log10(1.0 + hz / 700.0); }
static double mel_to_hz(double mel) { return 700.0 * (pow(10.0, mel / 2595.0) - 1.0); }
static double hz_to_mel_tf(double hz) { return 1127.0 * log1p(hz / 700.0); }

static int mel_space(const tz_mfcc_config *c) { return c->mel_triangles == TZ_MFCC_MEL_TRIANGLES_MEL; }

/* Edge j of the n_mels + 2 edges, as np.linspace(mel(f_min), mel(f_max), n_mels + 2): mapped back to Hz for
 * triangles in Hz, kept in (TF's) mel for triangles in mel. */
static double mel_edge(const tz_mfcc_config *c, int j)
{
    const int tf = mel_space(c);
    double lo = tf ? hz_to_mel_tf(c->f_min) : hz_to_mel(c->f_min);
    double hi = tf ? hz_to_mel_tf(c->f_max) : hz_to_mel(c->f_max);
    int last = c->n_mels + 1;
    double mel = (j == last) ? hi : lo + j * ((hi - lo) / last);   /* np.linspace sets the end point exactly */
    return tf ? mel : mel_to_hz(mel);
}

/* Frequency of FFT bin k, as np.linspace(0, sample_rate / 2, n_fft / 2 + 1). */
static double bin_hz(const tz_mfcc_config *c, int k)
{
    int last = c->n_fft / 2;
    double nyquist = c->sample_rate / 2.0;
    return (k == last) ? nyquist : k * (nyquist / last);
}

/* Lower edge, centre and upper edge of filter j, in Hz (or in mel for triangles in mel). */
static void filter_edges(const tz_mfcc_config *c, int j, double edges[3])
{
    for (int i = 0; i < 3; i++) edges[i] = mel_edge(c, j + i);
}

static double triangle(const double e[3], double f)
{
    double rising = (f - e[0]) / (e[1] - e[0]), falling = (e[2] - f) / (e[2] - e[1]);
    double w = rising < falling ? rising : falling;
    return w > 0.0 ? w : 0.0;
}

/* Weight of FFT bin k in the filter with edges e (in the units filter_edges gives for this config). */
static double mel_weight(const tz_mfcc_config *c, const double e[3], int k)
{
    if (!mel_space(c)) return triangle(e, bin_hz(c, k));
    return k == 0 ? 0.0 : triangle(e, hz_to_mel_tf(bin_hz(c, k)));   /* TF zeroes the DC bin */
}

/* Non-zero bins of each filter: a contiguous run, since a triangle is positive on an open interval. */
static void compute_mel_ranges(const tz_mfcc_config *c, uint16_t *first, uint16_t *count)
{
    int n_bins = c->n_fft / 2 + 1;
    for (int j = 0; j < c->n_mels; j++) {
        double e[3];
        filter_edges(c, j, e);
        int k = 0;
        while (k < n_bins && mel_weight(c, e, k) <= 0.0) k++;
        first[j] = (uint16_t)k;
        while (k < n_bins && mel_weight(c, e, k) > 0.0) k++;
        count[j] = (uint16_t)(k - first[j]);
    }
}

static size_t total_weights(const tz_mfcc_config *c, const uint16_t *count)
{
    size_t total = 0;
    for (int j = 0; j < c->n_mels; j++) total += count[j];
    return total;
}

size_t tz_mfcc_workspace_floats(const tz_mfcc_config *cfg)
{
    uint16_t first[TZ_MFCC_MAX_MELS], count[TZ_MFCC_MAX_MELS];
    if (cfg == NULL || check_config(cfg) != TZ_MFCC_OK) return 0;
    if (cfg->mel_first_bin != NULL && cfg->mel_num_bins != NULL) {
        memcpy(count, cfg->mel_num_bins, (size_t)cfg->n_mels * sizeof count[0]);
    } else {
        compute_mel_ranges(cfg, first, count);
    }
    return TZ_MFCC_WORKSPACE_FLOATS((size_t)cfg->win_length, (size_t)cfg->n_fft, (size_t)cfg->n_mels,
                                    (size_t)cfg->n_mfcc, total_weights(cfg, count));
}

size_t tz_mfcc_num_frames(const tz_mfcc_config *cfg, size_t num_samples)
{
    if (cfg == NULL || cfg->win_length <= 0 || cfg->hop_length <= 0 || num_samples < (size_t)cfg->win_length)
        return 0;
    return 1 + (num_samples - (size_t)cfg->win_length) / (size_t)cfg->hop_length;
}

int tz_mfcc_init(tz_mfcc *m, const tz_mfcc_config *cfg, float *workspace, size_t workspace_floats)
{
    if (m == NULL || cfg == NULL || workspace == NULL) return TZ_MFCC_ERR_NULL;
    m->ready = 0;
    int status = check_config(cfg);
    if (status != TZ_MFCC_OK) return status;
    m->cfg = *cfg;
    const int n_fft = cfg->n_fft, n_bins = n_fft / 2 + 1, n_mels = cfg->n_mels, n_mfcc = cfg->n_mfcc;

    if (cfg->mel_first_bin != NULL && cfg->mel_num_bins != NULL) {
        for (int j = 0; j < n_mels; j++) {
            if ((int)cfg->mel_first_bin[j] + (int)cfg->mel_num_bins[j] > n_bins) return TZ_MFCC_ERR_MEL_RANGES;
            m->first_bin[j] = cfg->mel_first_bin[j];
            m->num_bins[j] = cfg->mel_num_bins[j];
        }
        if (total_weights(cfg, m->num_bins) > (size_t)TZ_MFCC_MEL_WEIGHTS_BOUND(n_fft)) return TZ_MFCC_ERR_MEL_RANGES;
    } else {
        compute_mel_ranges(cfg, m->first_bin, m->num_bins);
    }
    const size_t n_weights = total_weights(cfg, m->num_bins);
    if (workspace_floats < TZ_MFCC_WORKSPACE_FLOATS((size_t)cfg->win_length, (size_t)n_fft, (size_t)n_mels,
                                                    (size_t)n_mfcc, n_weights))
        return TZ_MFCC_ERR_WORKSPACE;

    float *p = workspace;
    m->window = p;      p += cfg->win_length;
    m->twiddle = p;     p += n_fft;
    m->fft = p;         p += n_fft + 2;
    m->log_mel = p;     p += n_mels;
    m->dct = p;         p += n_mels * n_mfcc;
#ifdef TZ_MFCC_USE_CMSIS_DSP
    m->rfft_in = p;     p += n_fft;
    if (arm_rfft_fast_init_f32(&m->rfft, (uint16_t)n_fft) != ARM_MATH_SUCCESS) return TZ_MFCC_ERR_NFFT;
#else
    m->rfft_in = NULL;
#endif
    m->mel_weights = p;

    /* Periodic Hann, as hann_window(): 0.5 - 0.5 cos(2 pi n / N) (torch.hann_window's default). */
    for (int n = 0; n < cfg->win_length; n++)
        m->window[n] = (float)(0.5 - 0.5 * cos(2.0 * TZ_PI * n / cfg->win_length));
    for (int k = 0; k < n_fft / 2; k++) {
        m->twiddle[2 * k] = (float)cos(2.0 * TZ_PI * k / n_fft);
        m->twiddle[2 * k + 1] = (float)sin(2.0 * TZ_PI * k / n_fft);
    }
    float *w = m->mel_weights;
    for (int j = 0; j < n_mels; j++) {
        double e[3];
        filter_edges(cfg, j, e);
        for (int i = 0; i < m->num_bins[j]; i++) *w++ = (float)mel_weight(cfg, e, m->first_bin[j] + i);
    }
    /* DCT-II, as dct_matrix(): cos(pi / n_mels * (n + 0.5) * k), scaled sqrt(1/n) for k = 0 and sqrt(2/n)
     * otherwise (orthonormal), or 2 / sqrt(2 n) for every k (TF); stored (n_mels, n_mfcc) so coefficients =
     * log_mel @ dct. */
    for (int n = 0; n < n_mels; n++)
        for (int k = 0; k < n_mfcc; k++) {
            double scale = cfg->dct == TZ_MFCC_DCT_TF ? 2.0 / sqrt(2.0 * n_mels)
                                                      : sqrt((k == 0 ? 1.0 : 2.0) / n_mels);
            m->dct[n * n_mfcc + k] = (float)(cos(TZ_PI / n_mels * (n + 0.5) * k) * scale);
        }
    m->ready = 1;
    return TZ_MFCC_OK;
}

/* --- FFT ---------------------------------------------------------------------------------------------------- */

#ifndef TZ_MFCC_USE_CMSIS_DSP
/* In-place radix-2 decimation-in-time FFT of M complex values (interleaved re, im), forward (e^-i).
 * `tw` holds cos/sin(2 pi k / 2M) for k < M, so W_M^j = tw[2j] (every other entry). */
static void fft_complex(float *z, int M, const float *tw)
{
    for (int i = 0, j = 0; i < M - 1; i++) {   /* bit-reversal permutation */
        if (i < j) {
            float tr = z[2 * i], ti = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = tr;
            z[2 * j + 1] = ti;
        }
        int k = M >> 1;
        while (k <= j) {
            j -= k;
            k >>= 1;
        }
        j += k;
    }
    for (int len = 2; len <= M; len <<= 1) {
        const int half = len >> 1, stride = M / len;
        for (int j = 0; j < half; j++) {
            const float c = tw[4 * j * stride], s = tw[4 * j * stride + 1];   /* W = c - i s */
            for (int a = j; a < M; a += len) {
                const int b = a + half;
                const float tr = z[2 * b] * c + z[2 * b + 1] * s;
                const float ti = z[2 * b + 1] * c - z[2 * b] * s;
                z[2 * b] = z[2 * a] - tr;
                z[2 * b + 1] = z[2 * a + 1] - ti;
                z[2 * a] += tr;
                z[2 * a + 1] += ti;
            }
        }
    }
}
#endif

int tz_mfcc_rfft(tz_mfcc *m, float *buf)
{
    if (m == NULL || buf == NULL) return TZ_MFCC_ERR_NULL;
    if (!m->ready) return TZ_MFCC_ERR_NOT_INIT;
    const int N = m->cfg.n_fft;
#ifdef TZ_MFCC_USE_CMSIS_DSP
    /* arm_rfft_fast_f32 packs X[N/2].re into out[1] (both X[0] and X[N/2] are real); unpack it. */
    memcpy(m->rfft_in, buf, (size_t)N * sizeof(float));
    arm_rfft_fast_f32(&m->rfft, m->rfft_in, buf, 0);
    buf[N] = buf[1];
    buf[N + 1] = 0.0f;
    buf[1] = 0.0f;
#else
    /* Real FFT of N points through one complex FFT of N/2 points: z[n] = x[2n] + i x[2n+1], then
     * X[k] = E[k] - i W^k O[k] with E = (Z[k] + conj Z[M-k]) / 2, O = (Z[k] - conj Z[M-k]) / 2, W = e^(-2 pi i / N). */
    const int M = N / 2;
    const float *tw = m->twiddle;
    fft_complex(buf, M, tw);
    const float z0r = buf[0], z0i = buf[1];
    buf[0] = z0r + z0i;
    buf[1] = 0.0f;
    buf[N] = z0r - z0i;
    buf[N + 1] = 0.0f;
    for (int k = 1; k <= M / 2; k++) {
        const int l = M - k;
        const float ar = buf[2 * k], ai = buf[2 * k + 1], br = buf[2 * l], bi = buf[2 * l + 1];
        const float er = 0.5f * (ar + br), ei = 0.5f * (ai - bi);
        const float or_ = 0.5f * (ar - br), oi = 0.5f * (ai + bi);
        const float c = tw[2 * k], s = tw[2 * k + 1];
        buf[2 * k] = er + c * oi - s * or_;
        buf[2 * k + 1] = ei - c * or_ - s * oi;
        if (l != k) {   /* W^(M-k) = -(c + i s) */
            buf[2 * l] = er - c * oi + s * or_;
            buf[2 * l + 1] = -ei - c * or_ - s * oi;
        }
    }
#endif
    return TZ_MFCC_OK;
}

/* --- one frame ---------------------------------------------------------------------------------------------- */

/* m->fft[0 .. n_fft) holds the windowed, zero-padded frame: |FFT|^power -> mel -> log -> DCT. */
static int finish_frame(tz_mfcc *m, float *out)
{
    const tz_mfcc_config *c = &m->cfg;
    const int n_bins = c->n_fft / 2 + 1;
    float *spec = m->fft;
    tz_mfcc_rfft(m, spec);
    /* Spectrum in place: bin k goes to spec[k] after reading spec[2k], spec[2k+1] (k <= 2k, so nothing unread is
     * overwritten). */
    for (int k = 0; k < n_bins; k++) {
        const float re = spec[2 * k], im = spec[2 * k + 1];
        const float power2 = re * re + im * im;
        if (c->power == 1.0f)
            spec[k] = sqrtf(power2);
        else if (c->power == 2.0f)
            spec[k] = power2;
        else
            spec[k] = powf(sqrtf(power2), c->power);
    }
    const float *w = m->mel_weights;
    for (int j = 0; j < c->n_mels; j++) {
        const float *s = spec + m->first_bin[j];
        float acc = 0.0f;
        for (int i = 0; i < m->num_bins[j]; i++) acc += w[i] * s[i];
        w += m->num_bins[j];
        m->log_mel[j] = logf(acc + c->log_offset);
    }
    for (int k = 0; k < c->n_mfcc; k++) {
        float acc = 0.0f;
        for (int j = 0; j < c->n_mels; j++) acc += m->log_mel[j] * m->dct[j * c->n_mfcc + k];
        out[k] = acc;
    }
    return TZ_MFCC_OK;
}

static int frame_ready(const tz_mfcc *m, const void *samples, const float *out)
{
    if (m == NULL || samples == NULL || out == NULL) return TZ_MFCC_ERR_NULL;
    return m->ready ? TZ_MFCC_OK : TZ_MFCC_ERR_NOT_INIT;
}

int tz_mfcc_frame_s16_gain(tz_mfcc *m, const int16_t *samples, float gain, float *out)
{
    int status = frame_ready(m, samples, out);
    if (status != TZ_MFCC_OK) return status;
    const int win = m->cfg.win_length;
    /* x / 32768 as the data loader does; a power-of-two scale, so exact in float (and gain / 32768 exact too:
     * gain 1 is bit-identical to the plain 1/32768 scale). */
    const float scale = gain * (1.0f / 32768.0f);
    for (int n = 0; n < win; n++) m->fft[n] = ((float)samples[n] * scale) * m->window[n];
    for (int n = win; n < m->cfg.n_fft; n++) m->fft[n] = 0.0f;
    return finish_frame(m, out);
}

int tz_mfcc_frame_f32_gain(tz_mfcc *m, const float *samples, float gain, float *out)
{
    int status = frame_ready(m, samples, out);
    if (status != TZ_MFCC_OK) return status;
    const int win = m->cfg.win_length;
    for (int n = 0; n < win; n++) m->fft[n] = (samples[n] * gain) * m->window[n];
    for (int n = win; n < m->cfg.n_fft; n++) m->fft[n] = 0.0f;
    return finish_frame(m, out);
}

int tz_mfcc_frame_s16(tz_mfcc *m, const int16_t *samples, float *out)
{
    return tz_mfcc_frame_s16_gain(m, samples, 1.0f, out);
}

int tz_mfcc_frame_f32(tz_mfcc *m, const float *samples, float *out)
{
    return tz_mfcc_frame_f32_gain(m, samples, 1.0f, out);
}

/* --- clip-level peak normalisation (normalize = TZ_MFCC_NORMALIZE_PEAK) --------------------------------------- */

float tz_mfcc_clip_gain_s16(const tz_mfcc_config *cfg, const int16_t *pcm, size_t num_samples)
{
    if (cfg == NULL || cfg->normalize != TZ_MFCC_NORMALIZE_PEAK || pcm == NULL || num_samples == 0) return 1.0f;
    int32_t peak = pcm[0];
    for (size_t i = 1; i < num_samples; i++)
        if (pcm[i] > peak) peak = pcm[i];
    /* x / 32768 * (32768 / p) = x / p, as peak_normalize_numpy; max <= 0 (silence): unchanged */
    return peak > 0 ? (float)(32768.0 / peak) : 1.0f;
}

float tz_mfcc_clip_gain_f32(const tz_mfcc_config *cfg, const float *signal, size_t num_samples)
{
    if (cfg == NULL || cfg->normalize != TZ_MFCC_NORMALIZE_PEAK || signal == NULL || num_samples == 0) return 1.0f;
    float peak = signal[0];
    for (size_t i = 1; i < num_samples; i++)
        if (signal[i] > peak) peak = signal[i];
    return peak > 0.0f ? (float)(1.0 / (double)peak) : 1.0f;
}

static int check_signal(const tz_mfcc *m, const void *signal, size_t num_samples, const float *out,
                        size_t out_capacity, size_t *frames)
{
    if (m == NULL || signal == NULL || out == NULL) return TZ_MFCC_ERR_NULL;
    if (!m->ready) return TZ_MFCC_ERR_NOT_INIT;
    *frames = tz_mfcc_num_frames(&m->cfg, num_samples);
    if (*frames == 0) return TZ_MFCC_ERR_INPUT_SHORT;
    if (out_capacity < *frames * (size_t)m->cfg.n_mfcc) return TZ_MFCC_ERR_OUTPUT_SMALL;
    return TZ_MFCC_OK;
}

int tz_mfcc_compute_s16(tz_mfcc *m, const int16_t *pcm, size_t num_samples, float *out, size_t out_capacity,
                        size_t *num_frames)
{
    size_t frames = 0;
    int status = check_signal(m, pcm, num_samples, out, out_capacity, &frames);
    if (num_frames != NULL) *num_frames = status == TZ_MFCC_OK ? frames : 0;
    const float gain = status == TZ_MFCC_OK ? tz_mfcc_clip_gain_s16(&m->cfg, pcm, num_samples) : 1.0f;
    for (size_t t = 0; status == TZ_MFCC_OK && t < frames; t++)
        status = tz_mfcc_frame_s16_gain(m, pcm + t * (size_t)m->cfg.hop_length, gain,
                                        out + t * (size_t)m->cfg.n_mfcc);
    return status;
}

int tz_mfcc_compute_f32(tz_mfcc *m, const float *signal, size_t num_samples, float *out, size_t out_capacity,
                        size_t *num_frames)
{
    size_t frames = 0;
    int status = check_signal(m, signal, num_samples, out, out_capacity, &frames);
    if (num_frames != NULL) *num_frames = status == TZ_MFCC_OK ? frames : 0;
    const float gain = status == TZ_MFCC_OK ? tz_mfcc_clip_gain_f32(&m->cfg, signal, num_samples) : 1.0f;
    for (size_t t = 0; status == TZ_MFCC_OK && t < frames; t++)
        status = tz_mfcc_frame_f32_gain(m, signal + t * (size_t)m->cfg.hop_length, gain,
                                        out + t * (size_t)m->cfg.n_mfcc);
    return status;
}

const char *tz_mfcc_error_message(int status)
{
    switch (status) {
    case TZ_MFCC_OK: return "ok";
    case TZ_MFCC_ERR_NULL: return "tz_mfcc: a required pointer is NULL; pass the state, config, workspace and buffers";
    case TZ_MFCC_ERR_CONFIG:
        return "tz_mfcc: config out of range: need sample_rate, win_length, hop_length, n_mels > 0, "
               "0 < n_mfcc <= n_mels <= TZ_MFCC_MAX_MELS, 0 <= f_min < f_max <= sample_rate / 2, power > 0, "
               "log_offset > 0, and normalize, mel_triangles and dct each 0 or 1; regenerate app_model.h from the "
               "recipe config";
    case TZ_MFCC_ERR_NFFT:
        return "tz_mfcc: n_fft must be a power of two between 4 and 65536 (32..4096 with CMSIS-DSP) and "
               ">= win_length";
    case TZ_MFCC_ERR_WORKSPACE:
        return "tz_mfcc: workspace too small; size it with TZ_MFCC_WORKSPACE_FLOATS_EXACT from app_model.h "
               "or tz_mfcc_workspace_floats(&cfg)";
    case TZ_MFCC_ERR_MEL_RANGES:
        return "tz_mfcc: mel_first_bin/mel_num_bins do not fit the spectrum of this config; regenerate "
               "app_model.h from the same recipe config";
    case TZ_MFCC_ERR_INPUT_SHORT: return "tz_mfcc: fewer samples than one window (win_length); pass more audio";
    case TZ_MFCC_ERR_OUTPUT_SMALL:
        return "tz_mfcc: output buffer too small; it needs tz_mfcc_num_frames(&cfg, samples) * n_mfcc floats";
    case TZ_MFCC_ERR_NOT_INIT: return "tz_mfcc: state not initialised; call tz_mfcc_init and check its status";
    default: return "tz_mfcc: unknown status code";
    }
}
