// Anomaly-detection reference app (recipes/anomaly/*), the device side of MLPerf Tiny AD's harness:
//
//   float log-mel windows (N, TZ_APP_INPUT_NUMEL), as common/anomaly.py LogMelWindows makes them from a clip
//   -> int8 with the model's input scale -> ExecuTorch -> dequantize -> each window's mean squared error against
//   its float window; the clip's anomaly score is the mean over its windows (MLPerf's and DCASE 2020's score).
//
// Host:   anomaly_app <model.pte> <windows.f32> | <input.int8> --int8
//         windows.f32: raw float32 windows, N x TZ_APP_INPUT_NUMEL (numpy's tofile);
//         --int8: one window as the model's int8 input (reference_input.bin), its float window the dequantized
//         input.
// Device: the .pte and the bundled int8 input are compiled in (app_model.h).
//
// Output: one machine-readable line (tests/test_firmware_host.py parses it):
//   result score=<s> windows=<n> errors=<e0,...> output_int8=<q0,...of the last window> time_us=<t>
//          cpu_cycles=<c> npu_cycles=<n>   (the time and cycles of one window's inference)
#include <stdio.h>
#include <string.h>

#include "app_model.h"
#include "tz_files.h"
#include "tz_infer.h"
#include "tz_platform.h"
#include "tz_pools.h"
#include "tz_quantize.h"
#include "tz_runtime.h"

#if defined(TZ_BOARD_HOST) && !defined(TZ_METHOD_POOL_SIZE)
#define TZ_METHOD_POOL_SIZE (16 * 1024 * 1024)  // the host's portable program plans float buffers
#define TZ_TEMP_POOL_SIZE (1024 * 1024)
#endif
#ifndef TZ_METHOD_POOL_SIZE
#define TZ_METHOD_POOL_SIZE (64 * 1024)   // metadata + planned buffers; common/boards.py gives the need per model
#endif
#ifndef TZ_TEMP_POOL_SIZE
#define TZ_TEMP_POOL_SIZE (64 * 1024)     // the Ethos-U scratch
#endif
#ifndef TZ_APP_MAX_WINDOWS
#define TZ_APP_MAX_WINDOWS 256            // a 10-s clip gives 196
#endif

#if !defined(TZ_HAVE_QPARAMS)
#error "app_model.h has no int8 quantization (common/firmware/app_header.py with the published metrics.json)"
#endif

TZ_DEFINE_POOLS(TZ_METHOD_POOL_SIZE, TZ_TEMP_POOL_SIZE)
TZ_DEFINE_FAST_SCRATCH()

namespace {

alignas(16) int8_t model_input[TZ_APP_INPUT_NUMEL];
float errors[TZ_APP_MAX_WINDOWS];
tz::Model model;
const tz_qparams input_q = TZ_INPUT_QPARAMS;
const tz_qparams output_q = TZ_OUTPUT_QPARAMS;

#if !defined(TZ_APP_EMBEDDED_PTE) || !defined(TZ_APP_EMBEDDED_INPUT)
float windows[TZ_APP_MAX_WINDOWS * TZ_APP_INPUT_NUMEL];
alignas(16) uint8_t pte_file[4 * 1024 * 1024];
#endif

// One window: quantize (unless `window` is null: model_input holds it already and its float values are the
// dequantized input), run, and the mean squared error of the dequantized reconstruction against the float window.
const int8_t* reconstruction_error(const float* window, float* error, tz::Timing* timing) {
  if (window != nullptr) tz_quantize_s8(window, TZ_APP_INPUT_NUMEL, &input_q, model_input);
  const int8_t* out = tz::run_int8(model, model_input, sizeof(model_input), TZ_APP_INPUT_NUMEL,
                                   "the int8 reconstruction of the window", timing);
  if (out == nullptr) return nullptr;
  double sum = 0.0;
  for (int i = 0; i < TZ_APP_INPUT_NUMEL; ++i) {
    const float x = window != nullptr ? window[i] : tz_dequantize_one(model_input[i], &input_q);
    const double d = (double)tz_dequantize_one(out[i], &output_q) - (double)x;
    sum += d * d;
  }
  *error = (float)(sum / TZ_APP_INPUT_NUMEL);
  return out;
}

void report(size_t count, const int8_t* last, const tz::Timing& timing) {
  double score = 0.0;
  for (size_t i = 0; i < count; ++i) score += errors[i];
  tz_log("result score=%.6f windows=%lu errors=", score / (double)count, (unsigned long)count);
  for (size_t i = 0; i < count; ++i) tz_log(i ? ",%.6f" : "%.6f", (double)errors[i]);
  tz_log(" output_int8=");
  for (int i = 0; i < TZ_APP_INPUT_NUMEL; ++i) tz_log(i ? ",%d" : "%d", (int)last[i]);
  tz_log(" time_us=%llu cpu_cycles=%llu npu_cycles=%llu\n", (unsigned long long)timing.time_us,
         (unsigned long long)timing.cpu_cycles, (unsigned long long)timing.npu_cycles);
}

}  // namespace

int main(int argc, char** argv) {
  if (tz_platform_init() != 0) return 1;
  tz_log("tinyzoo %s on %s\n", TZ_APP_MODEL_NAME, tz_platform_name());
  tz::Timing timing;
  const int8_t* last = nullptr;
  size_t count = 0;

#if defined(TZ_APP_EMBEDDED_PTE) && defined(TZ_APP_EMBEDDED_INPUT)
  (void)argc;
  (void)argv;
  if (!tz::load_and_report(model, tz_app_model_pte, sizeof(tz_app_model_pte), tz_pools())) return 1;
  memcpy(model_input, tz_app_bundled_input, sizeof(model_input));
  last = reconstruction_error(nullptr, &errors[0], &timing);
  count = 1;
#else
  if (argc < 3) {
    tz_log("usage: %s <model.pte> <windows.f32 | input.int8 --int8>\n", argv[0]);
    return 2;
  }
  const size_t pte_size = tz_read_file(argv[1], pte_file, sizeof(pte_file));
  if (pte_size == 0 || !tz::load_and_report(model, pte_file, pte_size, tz_pools())) return 1;
  if (argc > 3 && strcmp(argv[3], "--int8") == 0) {
    if (!tz_read_int8_input(argv[2], model_input, sizeof(model_input))) return 1;
    last = reconstruction_error(nullptr, &errors[0], &timing);
    count = 1;
  } else {
    const size_t bytes = tz_read_file(argv[2], windows, sizeof(windows));
    const size_t window_bytes = sizeof(float) * TZ_APP_INPUT_NUMEL;
    if (bytes == 0 || bytes % window_bytes != 0) {
      tz_log("error: %s must hold whole float32 windows of %d values (at most %d windows)\n", argv[2],
             TZ_APP_INPUT_NUMEL, TZ_APP_MAX_WINDOWS);
      return 1;
    }
    count = bytes / window_bytes;
    for (size_t i = 0; i < count; ++i) {
      last = reconstruction_error(&windows[i * TZ_APP_INPUT_NUMEL], &errors[i], &timing);
      if (last == nullptr) return 1;
    }
  }
#endif
  if (last == nullptr) return 1;
  report(count, last, timing);
  return 0;
}
