// Keyword-spotting reference app (kws/ds_cnn; kws/kwt builds the same source against its own model):
//
//   int16 PCM at 16 kHz -> C MFCC (tz_mfcc, the training front end) -> int8 quantize (tz_quantize)
//   -> ExecuTorch (Ethos-U delegate on the device, portable kernels on the host) -> dequantize -> softmax
//   -> posterior smoothing over a sliding window + threshold (tz_kws) -> detections.
//
// Host:   kws_app <model.pte> <audio.s16> [--int8]
//         audio.s16: raw little-endian int16 mono PCM at the model's sample rate; longer than one clip, the
//         app slides a one-clip window by TZ_APP_HOP_SAMPLES and smooths the results; shorter, it is padded
//         with silence. --int8: the file is the model's int8 input tensor itself (reference_input.bin).
// Device: the .pte and a bundled input are compiled in (app_model.h); the result goes to the console.
//
// Output, one line per inference, machine-readable (tests/test_firmware_host.py parses it):
//   result index=<n> top1=<label> class=<i> score=<softmax of top1> scores=<p0,p1,...> output_int8=<q0,...>
//          smoothed=<label> smoothed_score=<s> detected=<0|1> time_us=<t> cpu_cycles=<c> npu_cycles=<n>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_model.h"
#include "tz_mfcc.h"
#include "tz_files.h"
#include "tz_infer.h"
#include "tz_platform.h"
#include "tz_pools.h"
#include "tz_postprocess.h"
#include "tz_quantize.h"
#include "tz_runtime.h"

#if defined(TZ_BOARD_HOST) && !defined(TZ_METHOD_POOL_SIZE)
// The host runs the portable (float-activation) program, whose planned buffers are several times the
// int8 NPU program's; memory is no concern there.
#define TZ_METHOD_POOL_SIZE (16 * 1024 * 1024)
#define TZ_TEMP_POOL_SIZE (1024 * 1024)
#endif
#ifndef TZ_METHOD_POOL_SIZE
#define TZ_METHOD_POOL_SIZE (64 * 1024)  // metadata + planned buffers; common/boards.py gives the need per model
#endif
#ifndef TZ_TEMP_POOL_SIZE
#define TZ_TEMP_POOL_SIZE (256 * 1024)   // holds the Ethos-U scratch (22-35 KiB for the published KWS models)
#endif
#ifndef TZ_APP_HOP_SAMPLES
#define TZ_APP_HOP_SAMPLES (TZ_MFCC_SAMPLE_RATE / 4)  // a new result every 250 ms on a stream
#endif
#ifndef TZ_APP_MAX_SAMPLES
#define TZ_APP_MAX_SAMPLES (TZ_MFCC_SAMPLE_RATE * 10)  // host input limit (static buffer)
#endif

TZ_DEFINE_POOLS(TZ_METHOD_POOL_SIZE, TZ_TEMP_POOL_SIZE)
TZ_DEFINE_FAST_SCRATCH()

namespace {

#if !defined(TZ_FRONTEND_MFCC) || !defined(TZ_HAVE_QPARAMS) || !defined(TZ_KWS_WINDOW)
#error "app_model.h is not a keyword-spotting model's header with int8 quantization (common/firmware/app_header.py)"
#endif

constexpr size_t kWorkspaceFloats = TZ_MFCC_WORKSPACE_FLOATS_EXACT;
float mfcc_workspace[kWorkspaceFloats];
float features[TZ_MFCC_NUM_FRAMES * TZ_MFCC_N_MFCC];
alignas(16) int8_t model_input[TZ_APP_INPUT_NUMEL];
float posteriors[TZ_NUM_CLASSES];

tz::Model model;
tz_mfcc mfcc;
tz_kws_smoother smoother;
const tz_qparams input_q = TZ_INPUT_QPARAMS;
const tz_qparams output_q = TZ_OUTPUT_QPARAMS;

#if !defined(TZ_APP_EMBEDDED_PTE) || !defined(TZ_APP_EMBEDDED_INPUT)
int16_t audio[TZ_APP_MAX_SAMPLES];
alignas(16) uint8_t pte_file[4 * 1024 * 1024];
#endif

// MFCC of one clip-long window, quantized into the model's input.
[[maybe_unused]] bool features_from_pcm(const int16_t* window) {
  size_t frames = 0;
  const int err = tz_mfcc_compute_s16(&mfcc, window, TZ_MFCC_CLIP_SAMPLES, features,
                                      TZ_MFCC_NUM_FRAMES * TZ_MFCC_N_MFCC, &frames);
  if (err != TZ_MFCC_OK || frames != TZ_MFCC_NUM_FRAMES) {
    tz_log("error: MFCC failed: %s (frames %lu)\n", tz_mfcc_error_message(err), (unsigned long)frames);
    return false;
  }
  tz_quantize_s8(features, TZ_APP_INPUT_NUMEL, &input_q, model_input);
  return true;
}

bool infer_and_report(uint32_t index) {
  tz::Timing timing;
  const int8_t* logits_q = tz::run_int8(model, model_input, sizeof(model_input), TZ_NUM_CLASSES,
                                        "one int8 score per class", &timing);
  if (logits_q == nullptr) return false;
  tz_dequantize_s8(logits_q, TZ_NUM_CLASSES, &output_q, posteriors);
  tz_softmax(posteriors, TZ_NUM_CLASSES, posteriors);
  tz_class_score top;
  tz_top_k(posteriors, TZ_NUM_CLASSES, 1, tz_frontend_labels(), &top);
  tz_kws_result smoothed;
  tz_kws_push(&smoother, posteriors, &smoothed);

  tz_log("result index=%lu top1=%s class=%ld score=%.6f scores=", (unsigned long)index, top.label,
         (long)top.index, (double)top.score);
  for (int i = 0; i < TZ_NUM_CLASSES; ++i) tz_log(i ? ",%.6f" : "%.6f", (double)posteriors[i]);
  tz_log(" output_int8=");
  for (int i = 0; i < TZ_NUM_CLASSES; ++i) tz_log(i ? ",%d" : "%d", (int)logits_q[i]);
  tz_log(" smoothed=%s smoothed_score=%.6f detected=%ld time_us=%llu cpu_cycles=%llu npu_cycles=%llu\n",
         tz_frontend_labels()[smoothed.class_index], (double)smoothed.score, (long)smoothed.detected,
         (unsigned long long)timing.time_us, (unsigned long long)timing.cpu_cycles,
         (unsigned long long)timing.npu_cycles);
  if (smoothed.detected) {
    tz_log("detection keyword=%s score=%.3f at_ms=%lu\n", tz_frontend_labels()[smoothed.class_index],
           (double)smoothed.score, (unsigned long)(index * 1000ULL * TZ_APP_HOP_SAMPLES / TZ_MFCC_SAMPLE_RATE));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (tz_platform_init() != 0) return 1;
  tz_log("tinyzoo %s on %s\n", TZ_APP_MODEL_NAME, tz_platform_name());

#if defined(TZ_APP_EMBEDDED_PTE) && defined(TZ_APP_EMBEDDED_INPUT)
  (void)argc;
  (void)argv;
  const void* pte = tz_app_model_pte;
  const size_t pte_size = sizeof(tz_app_model_pte);
  const bool input_is_int8 = true;  // the bundled input is the int8 model input of a test clip
#else
  if (argc < 3) {
    tz_log("usage: %s <model.pte> <audio.s16 | input.int8> [--int8]\n", argv[0]);
    return 2;
  }
  const bool input_is_int8 = argc > 3 && strcmp(argv[3], "--int8") == 0;
  const size_t pte_size = tz_read_file(argv[1], pte_file, sizeof(pte_file));
  if (pte_size == 0) return 1;
  const void* pte = pte_file;
#endif

  int err = tz_mfcc_init(&mfcc, tz_frontend_mfcc_config(), mfcc_workspace, kWorkspaceFloats);
  if (err != TZ_MFCC_OK) {
    tz_log("error: %s\n", tz_mfcc_error_message(err));
    return 1;
  }
  err = tz_kws_init(&smoother, tz_frontend_kws_config());  // common/postprocess.py KwsPostprocess
  if (err != TZ_POST_OK) {
    tz_log("error: %s\n", tz_postprocess_error_message(err));
    return 1;
  }
  if (!tz::load_and_report(model, pte, pte_size, tz_pools())) return 1;

  if (input_is_int8) {
#if defined(TZ_APP_EMBEDDED_INPUT)
    memcpy(model_input, tz_app_bundled_input, sizeof(model_input));
#else
    if (!tz_read_int8_input(argv[2], model_input, sizeof(model_input))) return 1;
#endif
    return infer_and_report(0) ? 0 : 1;
  }

#if !defined(TZ_APP_EMBEDDED_INPUT)
  const size_t bytes = tz_read_file(argv[2], audio, sizeof(audio));
  if (bytes == 0) return 1;
  size_t samples = bytes / sizeof(int16_t);
  if (samples < TZ_MFCC_CLIP_SAMPLES) {  // a short clip is padded with silence, as the data loader does
    memset(audio + samples, 0, (TZ_MFCC_CLIP_SAMPLES - samples) * sizeof(int16_t));
    samples = TZ_MFCC_CLIP_SAMPLES;
  }
  uint32_t index = 0;
  for (size_t start = 0; start + TZ_MFCC_CLIP_SAMPLES <= samples; start += TZ_APP_HOP_SAMPLES, ++index) {
    if (!features_from_pcm(audio + start) || !infer_and_report(index)) return 1;
  }
#endif
  return 0;
}
