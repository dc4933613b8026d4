/*
 * frontend_cli — runs the firmware front end and post-processing on files, for the parity tests
 * (tests/test_firmware_frontend.py) and for checking a golden export by hand. Built against one model's
 * generated app_model.h:
 *
 *   python -m tinyzoo.common.firmware.app_header zoo/artifacts/kws/ds_cnn -o /tmp/fw/app_model.h
 *   cc -std=c99 -O2 -Wall -Wextra -Werror -I/tmp/fw -Icommon/firmware/frontend \
 *      common/firmware/frontend/tests/frontend_cli.c common/firmware/frontend/tz_*.c -lm -o /tmp/fw/frontend_cli
 *
 * Files are raw little-endian arrays (int16 PCM, float32, uint8 HWC RGB, int8), as common/firmware/golden.py
 * writes them. Commands (those of the other front-end type print an error):
 *
 *   mfcc      IN.s16 OUT.f32 [OUT.s8]      int16 PCM -> (frames, n_mfcc) float32 [and the int8 model input]
 *   mfcc-f32  IN.f32 OUT.f32 [OUT.s8]      float PCM in [-1, 1) -> the same
 *   mel-ranges OUT.txt                     mel ranges tz_mfcc_init computes itself: "first count" per line
 *   rfft      IN.f32 OUT.f32               n_fft real samples -> n_fft/2 + 1 (re, im) pairs
 *   image     IN.u8 H W OUT.f32 [OUT.s8]   HWC RGB of H x W -> CHW float32 [and int8 via tz_image_to_s8]
 *   quantize  IN.f32 OUT.s8                float32 -> int8 with the model's input qparams
 *   kws       IN.s8 RESULTS WINDOW THRESHOLD REFRACTORY OUT.txt
 *             int8 logits (RESULTS, classes) -> dequantize (output qparams) -> softmax -> smoother;
 *             one line per result: "index class score detected"
 *   topk      IN.s8 K OUT.txt              int8 logits -> dequantize -> softmax -> "index score label" lines
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_model.h"
#include "tz_postprocess.h"
#include "tz_quantize.h"

static int fail(const char *what)
{
    fprintf(stderr, "frontend_cli: %s\n", what);
    return 1;
}

/* Whole file into a malloc'd buffer (the host harness may allocate; the front end itself does not). */
static void *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "frontend_cli: cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "frontend_cli: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static int write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size) {
        fprintf(stderr, "frontend_cli: cannot write %s\n", path);
        if (f) fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

#ifdef TZ_HAVE_QPARAMS
static const tz_qparams input_q = TZ_INPUT_QPARAMS;
static const tz_qparams output_q = TZ_OUTPUT_QPARAMS;
#endif

#ifdef TZ_FRONTEND_MFCC
static float workspace[TZ_MFCC_WORKSPACE_FLOATS_EXACT];

static int run_mfcc(int argc, char **argv, int float_input)
{
    if (argc < 4) return fail("usage: mfcc IN OUT.f32 [OUT.s8]");
    tz_mfcc m;
    int err = tz_mfcc_init(&m, tz_frontend_mfcc_config(), workspace, TZ_MFCC_WORKSPACE_FLOATS_EXACT);
    if (err) return fail(tz_mfcc_error_message(err));
    size_t bytes;
    void *in = read_file(argv[2], &bytes);
    if (in == NULL) return 1;
    const size_t sample_size = float_input ? sizeof(float) : sizeof(int16_t);
    if (bytes % sample_size != 0) {
        free(in);
        return fail("input size is not a whole number of samples");
    }
    const size_t n = bytes / sample_size;
    const size_t frames = tz_mfcc_num_frames(tz_frontend_mfcc_config(), n);
    const size_t count = frames * TZ_MFCC_N_MFCC;
    float *out = malloc(count ? count * sizeof(float) : 1);
    size_t done = 0;
    err = float_input ? tz_mfcc_compute_f32(&m, in, n, out, count, &done)
                      : tz_mfcc_compute_s16(&m, in, n, out, count, &done);
    free(in);
    int rc = err ? fail(tz_mfcc_error_message(err)) : write_file(argv[3], out, count * sizeof(float));
    if (rc == 0 && argc > 4) {
#ifdef TZ_HAVE_QPARAMS
        int8_t *q = malloc(count);
        tz_quantize_s8(out, count, &input_q, q);
        rc = write_file(argv[4], q, count);
        free(q);
#else
        rc = fail("no quantization parameters in app_model.h (generate it with --metrics)");
#endif
    }
    free(out);
    return rc;
}

static int run_mel_ranges(int argc, char **argv)
{
    if (argc < 3) return fail("usage: mel-ranges OUT.txt");
    tz_mfcc_config cfg = *tz_frontend_mfcc_config();
    cfg.mel_first_bin = NULL;   /* let tz_mfcc_init compute them */
    cfg.mel_num_bins = NULL;
    if (tz_mfcc_workspace_floats(&cfg) != TZ_MFCC_WORKSPACE_FLOATS_EXACT)
        return fail("tz_mfcc_workspace_floats disagrees with TZ_MFCC_WORKSPACE_FLOATS_EXACT");
    tz_mfcc m;
    int err = tz_mfcc_init(&m, &cfg, workspace, TZ_MFCC_WORKSPACE_FLOATS_EXACT);
    if (err) return fail(tz_mfcc_error_message(err));
    FILE *f = fopen(argv[2], "w");
    if (f == NULL) return fail("cannot write the output file");
    for (int j = 0; j < TZ_MFCC_N_MELS; j++) fprintf(f, "%u %u\n", m.first_bin[j], m.num_bins[j]);
    return fclose(f) != 0;
}

static int run_rfft(int argc, char **argv)
{
    if (argc < 4) return fail("usage: rfft IN.f32 OUT.f32");
    tz_mfcc m;
    int err = tz_mfcc_init(&m, tz_frontend_mfcc_config(), workspace, TZ_MFCC_WORKSPACE_FLOATS_EXACT);
    if (err) return fail(tz_mfcc_error_message(err));
    size_t bytes;
    float *in = read_file(argv[2], &bytes);
    if (in == NULL) return 1;
    if (bytes != TZ_MFCC_N_FFT * sizeof(float)) {
        free(in);
        return fail("rfft input must hold exactly n_fft float32 samples");
    }
    static float buf[TZ_MFCC_N_FFT + 2];
    memcpy(buf, in, bytes);
    free(in);
    err = tz_mfcc_rfft(&m, buf);
    if (err) return fail(tz_mfcc_error_message(err));
    return write_file(argv[3], buf, sizeof buf);
}
#endif

#ifdef TZ_FRONTEND_IMAGE
static int run_image(int argc, char **argv)
{
    if (argc < 6) return fail("usage: image IN.u8 H W OUT.f32 [OUT.s8]");
    const int h = atoi(argv[3]), w = atoi(argv[4]);
    size_t bytes;
    uint8_t *in = read_file(argv[2], &bytes);
    if (in == NULL) return 1;
    if (h <= 0 || w <= 0 || bytes != (size_t)h * (size_t)w * 3) {
        free(in);
        return fail("image file size is not H * W * 3 bytes");
    }
    const size_t count = 3 * (size_t)TZ_IMAGE_HEIGHT * TZ_IMAGE_WIDTH;
    float *out = malloc(count * sizeof(float));
    int err = tz_image_preprocess(tz_frontend_image_config(), in, h, w, out);
    int rc = err ? fail(tz_image_error_message(err)) : write_file(argv[5], out, count * sizeof(float));
    if (rc == 0 && argc > 6) {
#ifdef TZ_HAVE_QPARAMS
        int8_t *q = malloc(count);
        err = tz_image_to_s8(tz_frontend_image_config(), in, h, w, &input_q, q);
        rc = err ? fail(tz_image_error_message(err)) : write_file(argv[6], q, count);
        free(q);
#else
        rc = fail("no quantization parameters in app_model.h (generate it with --metrics)");
#endif
    }
    free(in);
    free(out);
    return rc;
}
#endif

#ifdef TZ_HAVE_QPARAMS
static int run_quantize(int argc, char **argv)
{
    if (argc < 4) return fail("usage: quantize IN.f32 OUT.s8");
    size_t bytes;
    float *in = read_file(argv[2], &bytes);
    if (in == NULL) return 1;
    const size_t n = bytes / sizeof(float);
    int8_t *q = malloc(n ? n : 1);
    tz_quantize_s8(in, n, &input_q, q);
    int rc = write_file(argv[3], q, n);
    free(in);
    free(q);
    return rc;
}

#ifdef TZ_NUM_CLASSES
static int run_kws(int argc, char **argv)
{
    if (argc < 8) return fail("usage: kws IN.s8 RESULTS WINDOW THRESHOLD REFRACTORY OUT.txt");
    const int results = atoi(argv[3]);
    size_t bytes;
    int8_t *logits = read_file(argv[2], &bytes);
    if (logits == NULL) return 1;
    if (results <= 0 || bytes != (size_t)results * TZ_NUM_CLASSES) {
        free(logits);
        return fail("logits file size is not RESULTS * num_classes bytes");
    }
#ifdef TZ_FRONTEND_MFCC
    tz_kws_config cfg = *tz_frontend_kws_config();
#else
    tz_kws_config cfg = {TZ_NUM_CLASSES, 1, 0.5f, 0, 0u};
#endif
    cfg.window = atoi(argv[4]);
    cfg.threshold = (float)atof(argv[5]);
    cfg.refractory = atoi(argv[6]);
    static tz_kws_smoother kws;
    int err = tz_kws_init(&kws, &cfg);
    if (err) {
        free(logits);
        return fail(tz_postprocess_error_message(err));
    }
    FILE *f = fopen(argv[7], "w");
    if (f == NULL) {
        free(logits);
        return fail("cannot write the output file");
    }
    for (int t = 0; t < results; t++) {
        float p[TZ_NUM_CLASSES];
        tz_dequantize_s8(logits + (size_t)t * TZ_NUM_CLASSES, TZ_NUM_CLASSES, &output_q, p);
        tz_softmax(p, TZ_NUM_CLASSES, p);
        tz_kws_result r;
        tz_kws_push(&kws, p, &r);
        fprintf(f, "%u %d %.9g %d\n", (unsigned)r.index, (int)r.class_index, (double)r.score, (int)r.detected);
    }
    free(logits);
    return fclose(f) != 0;
}

static int run_topk(int argc, char **argv)
{
    if (argc < 5) return fail("usage: topk IN.s8 K OUT.txt");
    const int k = atoi(argv[3]);
    size_t bytes;
    int8_t *logits = read_file(argv[2], &bytes);
    if (logits == NULL) return 1;
    if (k <= 0 || bytes != TZ_NUM_CLASSES) {
        free(logits);
        return fail("topk needs K > 0 and exactly num_classes int8 logits");
    }
    float p[TZ_NUM_CLASSES];
    tz_dequantize_s8(logits, TZ_NUM_CLASSES, &output_q, p);
    free(logits);
    tz_softmax(p, TZ_NUM_CLASSES, p);
    tz_class_score top[TZ_NUM_CLASSES];
    const size_t n = tz_top_k(p, TZ_NUM_CLASSES, (size_t)k, tz_frontend_labels(), top);
    FILE *f = fopen(argv[4], "w");
    if (f == NULL) return fail("cannot write the output file");
    for (size_t i = 0; i < n; i++) fprintf(f, "%d %.9g %s\n", (int)top[i].index, (double)top[i].score, top[i].label);
    return fclose(f) != 0;
}
#endif
#endif

int main(int argc, char **argv)
{
    if (argc < 2) return fail("usage: frontend_cli COMMAND ... (see the comment at the top of frontend_cli.c)");
    const char *cmd = argv[1];
#ifdef TZ_FRONTEND_MFCC
    if (strcmp(cmd, "mfcc") == 0) return run_mfcc(argc, argv, 0);
    if (strcmp(cmd, "mfcc-f32") == 0) return run_mfcc(argc, argv, 1);
    if (strcmp(cmd, "mel-ranges") == 0) return run_mel_ranges(argc, argv);
    if (strcmp(cmd, "rfft") == 0) return run_rfft(argc, argv);
#endif
#ifdef TZ_FRONTEND_IMAGE
    if (strcmp(cmd, "image") == 0) return run_image(argc, argv);
#endif
#ifdef TZ_HAVE_QPARAMS
    if (strcmp(cmd, "quantize") == 0) return run_quantize(argc, argv);
#ifdef TZ_NUM_CLASSES
    if (strcmp(cmd, "kws") == 0) return run_kws(argc, argv);
    if (strcmp(cmd, "topk") == 0) return run_topk(argc, argv);
#endif
#endif
    fprintf(stderr, "frontend_cli: unknown command %s for this build's app_model.h\n", cmd);
    return 1;
}
