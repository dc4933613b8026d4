// Image-classification reference app, shared by every vision recipe (vision/resnet8_cifar10,
// vision/vit_tiny_cifar10, vision/mobilenet_vww build this source against their own app_model.h):
//
//   uint8 RGB (H, W, 3) -> C preprocessing (tz_image: /255, bilinear resize, per-channel normalise, NCHW or NHWC
//   as the program takes it)
//   fused with int8 quantization -> ExecuTorch -> dequantize -> softmax -> top-k with labels.
//
// Host:   vision_app <model.pte> <image.rgb> [<height> <width> | --int8]
//         image.rgb: raw interleaved uint8 RGB, HxW (default: the model's input size);
//         --int8: the file is the model's int8 input tensor itself (reference_input.bin).
// Device: the .pte and a bundled int8 input are compiled in (app_model.h).
//
// Output: one machine-readable line (tests/test_firmware_host.py parses it):
//   result top1=<label> class=<i> score=<p> scores=<p0,...> output_int8=<q0,...> top3=<l:p,...>
//          time_us=<t> cpu_cycles=<c> npu_cycles=<n>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_model.h"
#include "tz_image.h"
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
#define TZ_METHOD_POOL_SIZE (128 * 1024)  // metadata + planned buffers; common/boards.py gives the need per model
#endif
#ifndef TZ_TEMP_POOL_SIZE
#define TZ_TEMP_POOL_SIZE (512 * 1024)    // holds the Ethos-U scratch (up to 180 KiB for the published models)
#endif
#ifndef TZ_APP_MAX_IMAGE_BYTES
#define TZ_APP_MAX_IMAGE_BYTES (640 * 480 * 3)
#endif
#define TZ_APP_TOP_K 3

#if !defined(TZ_FRONTEND_IMAGE) || !defined(TZ_HAVE_QPARAMS) || !defined(TZ_NUM_CLASSES)
#error "app_model.h is not an image classifier's header with int8 quantization (common/firmware/app_header.py)"
#endif

TZ_DEFINE_POOLS(TZ_METHOD_POOL_SIZE, TZ_TEMP_POOL_SIZE)
TZ_DEFINE_FAST_SCRATCH()

namespace {

alignas(16) int8_t model_input[TZ_APP_INPUT_NUMEL];
float probabilities[TZ_NUM_CLASSES];
tz::Model model;
const tz_qparams input_q = TZ_INPUT_QPARAMS;
const tz_qparams output_q = TZ_OUTPUT_QPARAMS;

#if !defined(TZ_APP_EMBEDDED_PTE) || !defined(TZ_APP_EMBEDDED_INPUT)
uint8_t image[TZ_APP_MAX_IMAGE_BYTES];
alignas(16) uint8_t pte_file[4 * 1024 * 1024];
#endif

bool infer_and_report() {
  tz::Timing timing;
  const int8_t* logits_q = tz::run_int8(model, model_input, sizeof(model_input), TZ_NUM_CLASSES,
                                        "one int8 score per class", &timing);
  if (logits_q == nullptr) return false;
  tz_dequantize_s8(logits_q, TZ_NUM_CLASSES, &output_q, probabilities);
  tz_softmax(probabilities, TZ_NUM_CLASSES, probabilities);
  tz_class_score top[TZ_APP_TOP_K];
  const size_t k = tz_top_k(probabilities, TZ_NUM_CLASSES, TZ_APP_TOP_K, tz_frontend_labels(), top);

  tz_log("result top1=%s class=%ld score=%.6f scores=", top[0].label, (long)top[0].index, (double)top[0].score);
  for (int i = 0; i < TZ_NUM_CLASSES; ++i) tz_log(i ? ",%.6f" : "%.6f", (double)probabilities[i]);
  tz_log(" output_int8=");
  for (int i = 0; i < TZ_NUM_CLASSES; ++i) tz_log(i ? ",%d" : "%d", (int)logits_q[i]);
  tz_log(" top%d=", (int)k);
  for (size_t i = 0; i < k; ++i) tz_log(i ? ",%s:%.4f" : "%s:%.4f", top[i].label, (double)top[i].score);
  tz_log(" time_us=%llu cpu_cycles=%llu npu_cycles=%llu\n", (unsigned long long)timing.time_us,
         (unsigned long long)timing.cpu_cycles, (unsigned long long)timing.npu_cycles);
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
#else
  if (argc < 3) {
    tz_log("usage: %s <model.pte> <image.rgb | input.int8> [<height> <width> | --int8]\n", argv[0]);
    return 2;
  }
  const size_t pte_size = tz_read_file(argv[1], pte_file, sizeof(pte_file));
  if (pte_size == 0) return 1;
  const void* pte = pte_file;
#endif
  if (!tz::load_and_report(model, pte, pte_size, tz_pools())) return 1;

#if defined(TZ_APP_EMBEDDED_INPUT)
  memcpy(model_input, tz_app_bundled_input, sizeof(model_input));
#else
  if (argc > 3 && strcmp(argv[3], "--int8") == 0) {
    if (!tz_read_int8_input(argv[2], model_input, sizeof(model_input))) return 1;
  } else {
    const int32_t height = argc > 4 ? atoi(argv[3]) : TZ_IMAGE_HEIGHT;
    const int32_t width = argc > 4 ? atoi(argv[4]) : TZ_IMAGE_WIDTH;
    const size_t want = (size_t)height * (size_t)width * 3;
    if (height <= 0 || width <= 0 || want > sizeof(image) || tz_read_file(argv[2], image, sizeof(image)) != want) {
      tz_log("error: %s must hold %dx%d interleaved uint8 RGB (%lu bytes)\n", argv[2], (int)height, (int)width,
             (unsigned long)want);
      return 1;
    }
    const int err = tz_image_to_s8(tz_frontend_image_config(), image, height, width, &input_q, model_input);
    if (err != TZ_IMAGE_OK) {
      tz_log("error: %s\n", tz_image_error_message(err));
      return 1;
    }
  }
#endif
  return infer_and_report() ? 0 : 1;
}
