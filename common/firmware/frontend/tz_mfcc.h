/*
 * tz_mfcc — the tinyzoo MFCC front end in C99 float32, step for step the same as the Python front end the
 * models were trained with (common/frontend/mfcc.py, float64 reference `mfcc_numpy`):
 *
 *   frame (win_length samples every hop_length, no padding)
 *   -> x periodic Hann window -> zero-pad to n_fft -> |real FFT| ^ power
 *   -> HTK-mel triangles over linear frequency, unnormalised (torchaudio melscale_fbanks, norm=None)
 *   -> log(mel + log_offset) (natural log) -> orthonormal DCT-II, first n_mfcc coefficients.
 *
 * Three options reproduce MLPerf Tiny's KWS front end (TensorFlow's, the one its DS-CNN was trained with); each
 * is a config field whose 0 value is the default above (recipe keys `normalize`, `mel_triangles`, `dct`):
 *
 *   normalize = TZ_MFCC_NORMALIZE_PEAK: the clip is divided by its own signed maximum sample (x / max(x)) before
 *       framing; a clip whose maximum is <= 0 (silence) is left unchanged. This is a clip-level step:
 *       tz_mfcc_compute_s16/_f32 find the peak over the num_samples they are given and apply it to every frame.
 *       The per-frame functions tz_mfcc_frame_s16/_f32 do NOT normalise; to compute frames yourself, get the
 *       clip's gain once with tz_mfcc_clip_gain_s16/_f32 and pass it to tz_mfcc_frame_s16_gain/_f32_gain. With
 *       a sliding window the peak (so the gain) changes whenever the window moves: recompute every frame.
 *   mel_triangles = TZ_MFCC_MEL_TRIANGLES_MEL: tf.signal.linear_to_mel_weight_matrix; HTK mel 1127 ln(1 + f/700),
 *       each FFT bin's frequency converted to mel and the triangles computed in mel (linear in mel, not in Hz),
 *       the DC bin's weight 0, unnormalised.
 *   dct = TZ_MFCC_DCT_TF: tf.signal.mfccs_from_log_mel_spectrograms, the unnormalised DCT-II / sqrt(2 n_mels),
 *       i.e. sqrt(2 / n_mels) cos(pi / n_mels (n + 0.5) k) for every k (c0 sqrt(2) larger than orthonormal).
 *
 * MLPerf's configuration is win_length 480, hop_length 320, n_fft 512, 40 mels from 20 to 4000 Hz, power 1,
 * log_offset 1e-6, 10 coefficients, and all three options on.
 *
 * No malloc: the caller owns a float workspace (window, FFT twiddles, FFT buffer, mel weights, DCT matrix),
 * filled once by tz_mfcc_init. After init only the FFT and log-mel buffers are written, so one tz_mfcc
 * serves one audio stream at a time.
 *
 * Usage (all frames of a 1 s clip; the generated app_model.h gives the config and exact sizes):
 *
 *     #include "app_model.h"     // python -m tinyzoo.common.firmware.app_header <model folder> -o <dir>/app_model.h
 *     static float workspace[TZ_MFCC_WORKSPACE_FLOATS_EXACT];
 *     static tz_mfcc mfcc;
 *     int err = tz_mfcc_init(&mfcc, tz_frontend_mfcc_config(), workspace, TZ_MFCC_WORKSPACE_FLOATS_EXACT);
 *     if (err) printf("%s\n", tz_mfcc_error_message(err));
 *     float features[TZ_MFCC_NUM_FRAMES * TZ_MFCC_N_MFCC];   // (frames, n_mfcc) row-major
 *     size_t frames;
 *     err = tz_mfcc_compute_s16(&mfcc, pcm, 16000, features, TZ_MFCC_NUM_FRAMES * TZ_MFCC_N_MFCC, &frames);
 *
 * Streaming (a sliding 1 s window, one new frame per hop): call tz_mfcc_frame_s16 on the newest win_length
 * samples and shift the feature matrix by one row; the result is the same as recomputing the whole clip.
 *
 * Input scale: int16 PCM is divided by 32768 (as the training data loader does); float input is expected
 * in [-1, 1) on the same scale.
 *
 * FFT: a radix-2 real FFT written here (n_fft a power of two, 4..65536). On Cortex-M with CMSIS-DSP, define
 * TZ_MFCC_USE_CMSIS_DSP (and link CMSIS-DSP) to use arm_rfft_fast_f32 instead (n_fft 32..4096; the workspace
 * grows by n_fft floats because it needs a separate input buffer). Both give the same spectrum to float32
 * rounding (checked by hand against CMSIS-DSP's C sources, see README.md); the automated parity tests in
 * tests/test_firmware_frontend.py run the built-in FFT.
 */
#ifndef TZ_MFCC_H
#define TZ_MFCC_H

#include <stddef.h>
#include <stdint.h>

#ifdef TZ_MFCC_USE_CMSIS_DSP
#include "arm_math.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Largest n_mels the state struct has room for (mel filter ranges live in tz_mfcc, not the workspace). */
#ifndef TZ_MFCC_MAX_MELS
#define TZ_MFCC_MAX_MELS 128
#endif

/* The recipe's `frontend:` section, in samples (window_ms * sample_rate / 1000, rounded). */
typedef struct {
    int32_t sample_rate;  /* Hz */
    int32_t win_length;   /* samples per frame */
    int32_t hop_length;   /* samples between frame starts */
    int32_t n_fft;        /* power of two >= win_length */
    int32_t n_mels;       /* mel filters, <= TZ_MFCC_MAX_MELS */
    int32_t n_mfcc;       /* DCT coefficients kept, <= n_mels */
    float f_min;          /* Hz, lower edge of the first mel filter */
    float f_max;          /* Hz, upper edge of the last mel filter, <= sample_rate / 2 */
    float power;          /* 1: magnitude spectrum, 2: power spectrum */
    float log_offset;     /* log(mel + log_offset) */
    /* Optional: first FFT bin and bin count of each mel filter's non-zero weights, as app_header.py writes
     * them (computed by NumPy from the same config). NULL: tz_mfcc_init computes them. */
    const uint16_t *mel_first_bin;
    const uint16_t *mel_num_bins;
    /* MLPerf Tiny's front end (see the top of this file); 0 = tinyzoo's default. Last in the struct so that
     * positional initialisers written without them keep compiling and mean the defaults. */
    int32_t normalize;      /* TZ_MFCC_NORMALIZE_NONE (0) or TZ_MFCC_NORMALIZE_PEAK (1) */
    int32_t mel_triangles;  /* TZ_MFCC_MEL_TRIANGLES_HZ (0) or TZ_MFCC_MEL_TRIANGLES_MEL (1) */
    int32_t dct;            /* TZ_MFCC_DCT_ORTHO (0) or TZ_MFCC_DCT_TF (1) */
} tz_mfcc_config;

/* Values of tz_mfcc_config.normalize, .mel_triangles and .dct. */
enum {
    TZ_MFCC_NORMALIZE_NONE = 0,      /* recipe `normalize: none` */
    TZ_MFCC_NORMALIZE_PEAK = 1,      /* `normalize: peak`: x / max(x) per clip */
    TZ_MFCC_MEL_TRIANGLES_HZ = 0,    /* `mel_triangles: hz`: triangles linear in Hz */
    TZ_MFCC_MEL_TRIANGLES_MEL = 1,   /* `mel_triangles: mel`: TF's, linear in mel, DC bin 0 */
    TZ_MFCC_DCT_ORTHO = 0,           /* `dct: ortho`: orthonormal DCT-II */
    TZ_MFCC_DCT_TF = 1               /* `dct: tf`: TF's DCT-II scaling */
};

/* Workspace size in floats. `mel_weights` is the total number of non-zero mel weights; every FFT bin lies in
 * at most two adjacent triangles, so TZ_MFCC_MEL_WEIGHTS_BOUND(n_fft) always suffices. */
#define TZ_MFCC_MEL_WEIGHTS_BOUND(n_fft) (2 * ((n_fft) / 2 + 1))
#define TZ_MFCC_WORKSPACE_FLOATS(win_length, n_fft, n_mels, n_mfcc, mel_weights) \
    ((win_length)              /* Hann window                                   */ \
     + (n_fft)                 /* cos/sin twiddles, k = 0 .. n_fft/2 - 1        */ \
     + (n_fft) + 2             /* FFT buffer, reused for the spectrum           */ \
     + (mel_weights)           /* non-zero mel weights, filter by filter        */ \
     + (n_mels)                /* log-mel energies                              */ \
     + (n_mels) * (n_mfcc)     /* DCT-II matrix (n_mels, n_mfcc)                */ \
     + TZ_MFCC_CMSIS_EXTRA_FLOATS(n_fft))
#ifdef TZ_MFCC_USE_CMSIS_DSP
#define TZ_MFCC_CMSIS_EXTRA_FLOATS(n_fft) (n_fft) /* arm_rfft_fast_f32 needs a separate input buffer */
#else
#define TZ_MFCC_CMSIS_EXTRA_FLOATS(n_fft) 0
#endif

/* Status codes (0 = OK). tz_mfcc_error_message turns one into a sentence that says what to fix. */
enum {
    TZ_MFCC_OK = 0,
    TZ_MFCC_ERR_NULL = -1,          /* a required pointer is NULL */
    TZ_MFCC_ERR_CONFIG = -2,        /* config values out of range (see the message) */
    TZ_MFCC_ERR_NFFT = -3,          /* n_fft is not a power of two >= win_length */
    TZ_MFCC_ERR_WORKSPACE = -4,     /* workspace smaller than tz_mfcc_workspace_floats(cfg) */
    TZ_MFCC_ERR_MEL_RANGES = -5,    /* given mel ranges outside the spectrum or overlapping more than 2 deep */
    TZ_MFCC_ERR_INPUT_SHORT = -6,   /* fewer samples than one window */
    TZ_MFCC_ERR_OUTPUT_SMALL = -7,  /* output buffer smaller than frames * n_mfcc */
    TZ_MFCC_ERR_NOT_INIT = -8       /* tz_mfcc_init was not called or failed */
};

typedef struct {
    tz_mfcc_config cfg;
    float *window;        /* [win_length] */
    float *twiddle;       /* [n_fft]: cos(2 pi k / n_fft), sin(2 pi k / n_fft) interleaved */
    float *fft;           /* [n_fft + 2] */
    float *mel_weights;   /* [sum of mel_num_bins] */
    float *log_mel;       /* [n_mels] */
    float *dct;           /* [n_mels * n_mfcc] */
    float *rfft_in;       /* [n_fft], CMSIS-DSP build only (NULL otherwise) */
    uint16_t first_bin[TZ_MFCC_MAX_MELS];
    uint16_t num_bins[TZ_MFCC_MAX_MELS];
    int ready;
#ifdef TZ_MFCC_USE_CMSIS_DSP
    arm_rfft_fast_instance_f32 rfft;
#endif
} tz_mfcc;

/* Floats of workspace tz_mfcc_init needs for cfg (exact), or 0 if cfg is invalid. */
size_t tz_mfcc_workspace_floats(const tz_mfcc_config *cfg);

/* Fills `m` and the workspace (window, twiddles, mel weights, DCT; computed in double, stored as float). */
int tz_mfcc_init(tz_mfcc *m, const tz_mfcc_config *cfg, float *workspace, size_t workspace_floats);

/* Frames that num_samples samples give: 1 + (num_samples - win_length) / hop_length, 0 if too short. */
size_t tz_mfcc_num_frames(const tz_mfcc_config *cfg, size_t num_samples);

/* One frame: win_length samples in, n_mfcc coefficients out (no peak normalisation, whatever cfg.normalize). */
int tz_mfcc_frame_s16(tz_mfcc *m, const int16_t *samples, float *out);
int tz_mfcc_frame_f32(tz_mfcc *m, const float *samples, float *out);

/* The clip-level gain of cfg.normalize for a whole clip: with TZ_MFCC_NORMALIZE_PEAK and a clip maximum p > 0,
 * 32768 / p (s16: the frame then sees x / 32768 * gain = x / p) or 1 / p (f32); otherwise (no normalisation,
 * a maximum <= 0, NULL or empty input) 1. */
float tz_mfcc_clip_gain_s16(const tz_mfcc_config *cfg, const int16_t *pcm, size_t num_samples);
float tz_mfcc_clip_gain_f32(const tz_mfcc_config *cfg, const float *signal, size_t num_samples);

/* One frame with the samples multiplied by `gain` first (on top of s16's 1/32768); gain 1 is tz_mfcc_frame_*. */
int tz_mfcc_frame_s16_gain(tz_mfcc *m, const int16_t *samples, float gain, float *out);
int tz_mfcc_frame_f32_gain(tz_mfcc *m, const float *samples, float gain, float *out);

/* All frames of a signal: out is (frames, n_mfcc) row-major; *num_frames (may be NULL) gets the count. With
 * TZ_MFCC_NORMALIZE_PEAK the signal is one clip, normalised by its peak over all num_samples. */
int tz_mfcc_compute_s16(tz_mfcc *m, const int16_t *pcm, size_t num_samples, float *out, size_t out_capacity,
                        size_t *num_frames);
int tz_mfcc_compute_f32(tz_mfcc *m, const float *signal, size_t num_samples, float *out, size_t out_capacity,
                        size_t *num_frames);

/* The real FFT the front end uses, exposed for tests: in-place on buf[n_fft + 2] holding n_fft real samples;
 * on return buf[2k], buf[2k+1] = Re, Im of X[k] for k = 0 .. n_fft/2 (n_fft/2 + 1 complex bins). */
int tz_mfcc_rfft(tz_mfcc *m, float *buf);

const char *tz_mfcc_error_message(int status);

#ifdef __cplusplus
}
#endif

#endif /* TZ_MFCC_H */
