// Language-model reference app (text/tiny_lm): greedy generation with the fixed-window int8 graph, exactly
// common.text.greedy_generate:
//
//   token ids -> window of the last TZ_LM_CONTEXT ids (the prompt fills it from the start; the rest is padded
//   with token 0, which the causal mask hides) -> rows of the int8 embedding table copied into the (1, context,
//   dim) int8 input (the table is already quantized with the graph's input scale and zero point) -> ExecuTorch
//   (Ethos-U delegate on the device, portable kernels on the host) -> (1, context, vocab) int8 logits -> the
//   first maximum at the last filled position is the next token -> append; once the window is full it slides.
//
// The prompt is bundled: its token ids were computed at header-generation time with the model's tokenizer.model
// (common/firmware/app_header.py), and so was the piece table the app decodes the ids with.
//
// Host:   text_tiny_lm <model.pte> <embedding_int8.bin> [new_tokens]
// Device: the .pte and the embedding table are compiled in (app_model.h); TZ_LM_NEW_TOKENS tokens.
//
// Output (tests/test_firmware_host.py parses it):
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
    tz_log("usage: %s <model.pte> <embedding_int8.bin> [new_tokens]\n", argv[0]);
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
  if (model.input_nbytes(0) != sizeof(model_input) || model.input_dtype(0) != tz::ScalarType::Char) {
    tz_log("error: the program's input is %lu bytes of %s; this app feeds (1, %d, %d) int8\n",
           (unsigned long)model.input_nbytes(0), tz::dtype_name(model.input_dtype(0)), TZ_LM_CONTEXT, TZ_LM_DIM);
    return 1;
  }
  tz_log("prompt text=%s\n", TZ_LM_PROMPT_TEXT);

  memcpy(tokens, tz_lm_prompt_ids, sizeof(tz_lm_prompt_ids));
  size_t count = TZ_LM_PROMPT_LENGTH;
  uint64_t total_us = 0, total_cycles = 0, total_npu = 0;
  for (long step = 0; step < new_tokens; ++step) {
    const size_t position = fill_window(table, tokens, count);
    tz::Timing timing;
    const int8_t* logits = tz::run_int8(model, model_input, sizeof(model_input), (size_t)TZ_LM_CONTEXT * TZ_LM_VOCAB,
                                        "(1, context, vocab) int8 logits", &timing);
    if (logits == nullptr) return 1;
    tokens[count++] = argmax_s8(logits + position * TZ_LM_VOCAB, TZ_LM_VOCAB);
    total_us += timing.time_us;
    total_cycles += timing.cpu_cycles;
    total_npu += timing.npu_cycles;
    tz_log("token index=%ld id=%ld time_us=%llu cpu_cycles=%llu npu_cycles=%llu\n", step, (long)tokens[count - 1],
           (unsigned long long)timing.time_us, (unsigned long long)timing.cpu_cycles,
           (unsigned long long)timing.npu_cycles);
  }

  tz_log("result");
  print_ids("prompt_ids", tokens, TZ_LM_PROMPT_LENGTH);
  print_ids("ids", tokens + TZ_LM_PROMPT_LENGTH, count - TZ_LM_PROMPT_LENGTH);
  tz_log(" new_tokens=%ld time_us_per_token=%llu cpu_cycles_per_token=%llu npu_cycles_per_token=%llu\n", new_tokens,
         (unsigned long long)(total_us / new_tokens), (unsigned long long)(total_cycles / new_tokens),
         (unsigned long long)(total_npu / new_tokens));
  print_text(tokens, count);
  return 0;
}
