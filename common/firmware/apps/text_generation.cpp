// Language-model reference app (text/tiny_lm): greedy generation with either of the model's int8 programs,
// chosen by the .pte it is given (one input: the window graph, six: the decode step):
//
// The fixed-window graph (model.pte), exactly common.text.greedy_generate:
//   token ids -> window of the last TZ_LM_CONTEXT ids (the prompt fills it from the start; the rest is padded
//   with token 0, which the causal mask hides) -> rows of the int8 embedding table copied into the (1, context,
//   dim) int8 input (the table is already quantized with the graph's input scale and zero point) -> ExecuTorch
//   (Ethos-U delegate on the device, portable kernels on the host) -> (1, context, vocab) int8 logits -> the
//   first maximum at the last filled position is the next token -> append; once the window is full it slides.
//
// The KV-cache decode step (decode_step/model.pte), exactly common.text.greedy_continuation: one inference per
//   token, prompt tokens included: its embedding row (decode_step/embedding_int8.bin, at the step's input
//   scale), the rotary rows of its absolute position (in app_model.h), the cached int8 keys and values of the
//   previous tokens (a ring of TZ_LM_SLOTS slots per layer) and the mask of filled slots in; the (1, 1, vocab)
//   logits and the token's keys and values per layer out, which go into slot position % TZ_LM_SLOTS
//   (requantized into the cache's input scale). The token after the last prompt token is the first generated.
//
// The prompt is bundled: its token ids were computed at header-generation time with the model's tokenizer.model
// (common/firmware/app_header.py), and so was the piece table the app decodes the ids with.
//
// Host:   text_tiny_lm <model.pte> <embedding_int8.bin> [new_tokens]
//         text_tiny_lm <decode_step/model.pte> <decode_step/embedding_int8.bin> [new_tokens]
// Device: the .pte and its embedding table are compiled in (app_model.h); TZ_LM_NEW_TOKENS tokens.
//
// Output (tests/test_firmware_host.py parses it):
//   program=<window|decode_step>
//   token index=<i> id=<id> time_us=<t> cpu_cycles=<c> npu_cycles=<n>        one line per generated token
//   result prompt_ids=<p0,...> ids=<g0,...> new_tokens=<n> time_us_per_token=<t> cpu_cycles_per_token=<c>
//          npu_cycles_per_token=<n>
//   text=<prompt and continuation, decoded with the piece table>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_model.h"
#include "tz_files.h"
#include "tz_infer.h"
#include "tz_platform.h"
#include "tz_pools.h"
#include "tz_runtime.h"

#if !defined(TZ_APP_LANGUAGE_MODEL)
#error "app_model.h is not a language model's header (common/firmware/app_header.py on zoo/artifacts/text/<model>)"
#endif

#if defined(TZ_BOARD_HOST) && !defined(TZ_METHOD_POOL_SIZE)
// The host runs the portable program (float activations between the quantize/dequantize pairs).
#define TZ_METHOD_POOL_SIZE (32 * 1024 * 1024)
#define TZ_TEMP_POOL_SIZE (4 * 1024 * 1024)
#endif
#ifndef TZ_METHOD_POOL_SIZE
#define TZ_METHOD_POOL_SIZE (512 * 1024)  // metadata + planned buffers; common/boards.py gives the need per model
#endif
#ifndef TZ_TEMP_POOL_SIZE
#define TZ_TEMP_POOL_SIZE (1024 * 1024)   // holds the Ethos-U scratch
#endif
#ifndef TZ_LM_MAX_NEW_TOKENS
#define TZ_LM_MAX_NEW_TOKENS 256           // size of the static token buffer
#endif

TZ_DEFINE_POOLS(TZ_METHOD_POOL_SIZE, TZ_TEMP_POOL_SIZE)
TZ_DEFINE_FAST_SCRATCH()

namespace {

alignas(16) int8_t model_input[TZ_LM_CONTEXT * TZ_LM_DIM];
int32_t tokens[TZ_LM_PROMPT_LENGTH + TZ_LM_MAX_NEW_TOKENS];
tz::Model model;

struct Totals {
  uint64_t time_us = 0, cpu_cycles = 0, npu_cycles = 0;
  void add(const tz::Timing& t) {
    time_us += t.time_us;
    cpu_cycles += t.cpu_cycles;
    npu_cycles += t.npu_cycles;
  }
};

#if !defined(TZ_APP_EMBEDDED_PTE) || !defined(TZ_APP_EMBEDDED_EMBEDDING)
alignas(16) uint8_t pte_file[16 * 1024 * 1024];
alignas(16) int8_t embedding_file[TZ_LM_EMBEDDING_BYTES];
#endif

// The window ending at tokens[count - 1] as the model's int8 input; returns the position to read.
size_t fill_window(const int8_t* table, const int32_t* ids, size_t count) {
  const size_t length = count < TZ_LM_CONTEXT ? count : TZ_LM_CONTEXT;
  const int32_t* first = ids + (count - length);
  for (size_t i = 0; i < TZ_LM_CONTEXT; ++i) {
    const int32_t id = i < length ? first[i] : 0;  // padding: token 0, hidden by the causal mask
    memcpy(model_input + i * TZ_LM_DIM, table + (size_t)id * TZ_LM_DIM, TZ_LM_DIM);
  }
  return length - 1;
}

// Index of the first maximum of one row of int8 logits (a positive output scale keeps the order).
int32_t argmax_s8(const int8_t* row, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i) {
    if (row[i] > row[best]) best = i;
  }
  return (int32_t)best;
}

void print_ids(const char* name, const int32_t* ids, size_t n) {
  tz_log(" %s=", name);
  for (size_t i = 0; i < n; ++i) tz_log(i ? ",%ld" : "%ld", (long)ids[i]);
}

// The text of `ids` from the piece table; SentencePiece drops the space that opens the text.
void print_text(const int32_t* ids, size_t n) {
  bool at_start = true;
  tz_log("text=");
  for (size_t i = 0; i < n; ++i) {
    const uint32_t begin = tz_lm_piece_offsets[ids[i]];
    const uint32_t end = tz_lm_piece_offsets[ids[i] + 1];
    const char* piece = tz_lm_pieces + begin;
    size_t length = end - begin;
    if (at_start && length > 0 && piece[0] == ' ') {
      ++piece;
      --length;
    }
    if (end > begin) at_start = false;
    tz_log("%.*s", (int)length, piece);
  }
  tz_log("\n");
}

// 32-bit FNV-1a, as app_header.py computes it for the table each program reads.
uint32_t fnv1a(const int8_t* data, size_t n) {
  uint32_t h = 0x811C9DC5u;
  for (size_t i = 0; i < n; ++i) h = (h ^ (uint8_t)data[i]) * 0x01000193u;
  return h;
}

void log_token(long index, int32_t id, const tz::Timing& timing) {
  tz_log("token index=%ld id=%ld time_us=%llu cpu_cycles=%llu npu_cycles=%llu\n", index, (long)id,
         (unsigned long long)timing.time_us, (unsigned long long)timing.cpu_cycles,
         (unsigned long long)timing.npu_cycles);
}

// The fixed-window graph: each new token is one inference of the whole window.
bool generate_with_window(const int8_t* table, long new_tokens, size_t* count, Totals* totals) {
  for (long step = 0; step < new_tokens; ++step) {
    const size_t position = fill_window(table, tokens, *count);
    tz::Timing timing;
    const int8_t* logits = tz::run_int8(model, model_input, sizeof(model_input), (size_t)TZ_LM_CONTEXT * TZ_LM_VOCAB,
                                        "(1, context, vocab) int8 logits", &timing);
    if (logits == nullptr) return false;
    tokens[(*count)++] = argmax_s8(logits + position * TZ_LM_VOCAB, TZ_LM_VOCAB);
    totals->add(timing);
    log_token(step, tokens[*count - 1], timing);
  }
  return true;
}

#if defined(TZ_LM_DECODE_STEP)
constexpr size_t kCacheBytes = (size_t)TZ_LM_DEPTH * TZ_LM_SLOTS * TZ_LM_DIM;
alignas(16) int8_t step_keys[kCacheBytes];
alignas(16) int8_t step_values[kCacheBytes];
alignas(16) int8_t step_visible[TZ_LM_SLOTS + 1];

// in (int8 at `from`) into out (int8 at `to`): dequantize, then quantize with the cache input's scale, as
// common.text.tosa_step and KVCache do (an identity where the quantizer gave both the same parameters).
void requantize(const int8_t* in, int8_t* out, size_t n, const tz_qparams* from, const tz_qparams* to) {
  const float inv_scale = tz_inv_scale(to->scale);
  for (size_t i = 0; i < n; ++i) out[i] = tz_quantize_one(tz_dequantize_one(in[i], from), inv_scale, to);
}

// One inference of the decode step for `token` at absolute `position`; its keys and values go into the ring.
const int8_t* decode_one(const int8_t* table, int32_t token, size_t position, tz::Timing* timing) {
  const int8_t* rotary = reinterpret_cast<const int8_t*>(tz_lm_rotary) + position * 2 * TZ_LM_HEAD_DIM;
  const void* inputs[6] = {table + (size_t)token * TZ_LM_DIM, rotary, rotary + TZ_LM_HEAD_DIM, step_keys,
                           step_values, step_visible};
  const size_t sizes[6] = {TZ_LM_DIM, TZ_LM_HEAD_DIM, TZ_LM_HEAD_DIM, kCacheBytes, kCacheBytes, TZ_LM_SLOTS + 1};
  for (size_t i = 0; i < 6; ++i) {
    if (model.set_input(i, inputs[i], sizes[i], tz::ScalarType::Char) != tz::Error::Ok) return nullptr;
  }
  tz_npu_cycles_reset();
  const uint64_t t0 = tz_time_us();
  const uint64_t c0 = tz_cpu_cycles();
  if (model.run() != tz::Error::Ok) return nullptr;
  timing->cpu_cycles = tz_cpu_cycles() - c0;
  timing->time_us = tz_time_us() - t0;
  timing->npu_cycles = tz_npu_cycles();
  const size_t want[3] = {TZ_LM_VOCAB, (size_t)TZ_LM_DEPTH * TZ_LM_DIM, (size_t)TZ_LM_DEPTH * TZ_LM_DIM};
  tz::TensorView out[3];
  for (size_t i = 0; i < 3; ++i) {
    out[i] = model.output(i);
    if (out[i].dtype != tz::ScalarType::Char || out[i].numel != want[i]) {
      tz_log("error: decode-step output %lu is %s with %lu values, not %lu int8 (logits, new keys, new values)\n",
             (unsigned long)i, tz::dtype_name(out[i].dtype), (unsigned long)out[i].numel, (unsigned long)want[i]);
      return nullptr;
    }
  }
  const size_t slot = position % TZ_LM_SLOTS;
  for (size_t layer = 0; layer < TZ_LM_DEPTH; ++layer) {
    const size_t row = (layer * TZ_LM_SLOTS + slot) * TZ_LM_DIM;
    requantize(static_cast<const int8_t*>(out[1].data) + layer * TZ_LM_DIM, step_keys + row, TZ_LM_DIM,
               &tz_lm_step_outputs[1], &tz_lm_step_inputs[3]);
    requantize(static_cast<const int8_t*>(out[2].data) + layer * TZ_LM_DIM, step_values + row, TZ_LM_DIM,
               &tz_lm_step_outputs[2], &tz_lm_step_inputs[4]);
  }
  step_visible[slot] = TZ_LM_VISIBLE_ON;
  return static_cast<const int8_t*>(out[0].data);
}

// The decode step: every prompt token and every generated token but the last is one inference.
bool generate_with_decode_step(const int8_t* table, long new_tokens, size_t* count, Totals* totals) {
  if (TZ_LM_PROMPT_LENGTH + new_tokens - 1 > TZ_LM_ROTARY_POSITIONS) {
    tz_log("error: %ld new tokens after a %d-token prompt need %ld positions; app_model.h holds the rotary rows "
           "of %d\n", new_tokens, TZ_LM_PROMPT_LENGTH, (long)(TZ_LM_PROMPT_LENGTH + new_tokens - 1),
           TZ_LM_ROTARY_POSITIONS);
    return false;
  }
  const tz_qparams* keys = &tz_lm_step_inputs[3];
  const tz_qparams* values = &tz_lm_step_inputs[4];
  memset(step_keys, (int8_t)keys->zero_point, sizeof(step_keys));   // the empty cache: zeros, as KVCache starts
  memset(step_values, (int8_t)values->zero_point, sizeof(step_values));
  memset(step_visible, TZ_LM_VISIBLE_OFF, TZ_LM_SLOTS);
  step_visible[TZ_LM_SLOTS] = TZ_LM_VISIBLE_ON;   // the token itself
  long generated = 0;
  for (size_t position = 0; generated < new_tokens; ++position) {
    tz::Timing timing;
    const int8_t* logits = decode_one(table, tokens[position], position, &timing);
    if (logits == nullptr) return false;
    if (position + 1 < TZ_LM_PROMPT_LENGTH) continue;   // reading the prompt
    tokens[(*count)++] = argmax_s8(logits, TZ_LM_VOCAB);
    totals->add(timing);
    log_token(generated++, tokens[*count - 1], timing);
  }
  return true;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  if (tz_platform_init() != 0) return 1;
  tz_log("tinyzoo %s on %s\n", TZ_APP_MODEL_NAME, tz_platform_name());
  long new_tokens = TZ_LM_NEW_TOKENS;

#if defined(TZ_APP_EMBEDDED_PTE) && defined(TZ_APP_EMBEDDED_EMBEDDING)
  (void)argc;
  (void)argv;
  const void* pte = tz_app_model_pte;
  const size_t pte_size = sizeof(tz_app_model_pte);
  const int8_t* table = reinterpret_cast<const int8_t*>(tz_lm_embedding_table);
#else
  if (argc < 3) {
    tz_log("usage: %s <model.pte> <embedding_int8.bin> [new_tokens]\n"
           "       %s <decode_step/model.pte> <decode_step/embedding_int8.bin> [new_tokens]\n", argv[0], argv[0]);
    return 2;
  }
  if (argc > 3) {
    char* end = nullptr;
    new_tokens = strtol(argv[3], &end, 10);
    if (end == argv[3] || *end != '\0') new_tokens = 0;
  }
  const size_t pte_size = tz_read_file(argv[1], pte_file, sizeof(pte_file));
  if (pte_size == 0) return 1;
  const void* pte = pte_file;
  if (tz_read_file(argv[2], embedding_file, sizeof(embedding_file)) != sizeof(embedding_file)) {
    tz_log("error: %s must hold the (%d x %d) int8 embedding table, %d bytes (embedding_int8.bin of the same "
           "model)\n", argv[2], TZ_LM_VOCAB, TZ_LM_DIM, TZ_LM_EMBEDDING_BYTES);
    return 1;
  }
  const int8_t* table = embedding_file;
#endif
  if (new_tokens < 1 || new_tokens > TZ_LM_MAX_NEW_TOKENS) {
    tz_log("error: new_tokens must be 1..%d (TZ_LM_MAX_NEW_TOKENS)\n", TZ_LM_MAX_NEW_TOKENS);
    return 2;
  }

  if (!tz::load_and_report(model, pte, pte_size, tz_pools())) return 1;
  const bool decode_step = model.num_inputs() == 6;
#if !defined(TZ_LM_DECODE_STEP)
  if (decode_step) {
    tz_log("error: this is the decode step's program but app_model.h has no decode-step part: regenerate it from "
           "a model published with decode_step/ (common/firmware/app_header.py)\n");
    return 1;
  }
#endif
  if (!decode_step && (model.num_inputs() != 1 || model.input_nbytes(0) != sizeof(model_input) ||
                       model.input_dtype(0) != tz::ScalarType::Char)) {
    tz_log("error: the program's input is %lu bytes of %s; this app feeds (1, %d, %d) int8 (model.pte) or the "
           "decode step's six int8 inputs (decode_step/model.pte)\n",
           (unsigned long)model.input_nbytes(0), tz::dtype_name(model.input_dtype(0)), TZ_LM_CONTEXT, TZ_LM_DIM);
    return 1;
  }
#if defined(TZ_LM_EMBEDDING_FNV1A)
#if defined(TZ_LM_DECODE_STEP)
  const uint32_t want = decode_step ? TZ_LM_STEP_EMBEDDING_FNV1A : TZ_LM_EMBEDDING_FNV1A;
#else
  const uint32_t want = TZ_LM_EMBEDDING_FNV1A;
#endif
  if (fnv1a(table, TZ_LM_EMBEDDING_BYTES) != want) {
    tz_log("error: the embedding table is not the one this program reads: the window graph (model.pte) reads "
           "embedding_int8.bin, the decode step (decode_step/model.pte) decode_step/embedding_int8.bin\n");
    return 1;
  }
#endif
  tz_log("program=%s\n", decode_step ? "decode_step" : "window");
  tz_log("prompt text=%s\n", TZ_LM_PROMPT_TEXT);

  memcpy(tokens, tz_lm_prompt_ids, sizeof(tz_lm_prompt_ids));
  size_t count = TZ_LM_PROMPT_LENGTH;
  Totals totals;
#if defined(TZ_LM_DECODE_STEP)
  const bool done = decode_step ? generate_with_decode_step(table, new_tokens, &count, &totals)
                                : generate_with_window(table, new_tokens, &count, &totals);
#else
  const bool done = generate_with_window(table, new_tokens, &count, &totals);
#endif
  if (!done) return 1;

  tz_log("result");
  print_ids("prompt_ids", tokens, TZ_LM_PROMPT_LENGTH);
  print_ids("ids", tokens + TZ_LM_PROMPT_LENGTH, count - TZ_LM_PROMPT_LENGTH);
  tz_log(" new_tokens=%ld time_us_per_token=%llu cpu_cycles_per_token=%llu npu_cycles_per_token=%llu\n", new_tokens,
         (unsigned long long)(totals.time_us / new_tokens), (unsigned long long)(totals.cpu_cycles / new_tokens),
         (unsigned long long)(totals.npu_cycles / new_tokens));
  print_text(tokens, count);
  return 0;
}
