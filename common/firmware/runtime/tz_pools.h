/*
 * tz_pools — the app's statically allocated memory, one macro per pool so every app places them the same
 * way (sections from tz_board.h). Sizes come from the model: common/boards.py's memory_fit() prints the
 * numbers for a .pte and a board, e.g. `python -m tinyzoo.common.boards zoo/artifacts/kws/ds_cnn ethos-u55-128`.
 *
 *   TZ_DEFINE_POOLS(method_bytes, temp_bytes)  defines tz_method_pool / tz_temp_pool and tz_pools()
 *   TZ_MODEL_DATA                              attribute for the embedded .pte array (16-byte aligned)
 *
 * With an Ethos-U Dedicated_Sram model, also define TZ_FAST_SCRATCH_SIZE: the delegate then finds the fast
 * (SRAM) scratch through the weak symbols ethosu_fast_scratch / ethosu_fast_scratch_size.
 */
#ifndef TZ_POOLS_H
#define TZ_POOLS_H

#include <stddef.h>
#include <stdint.h>

#include "tz_board.h"
#include "tz_runtime.h"

#if defined(TZ_BOARD_HOST)
#define TZ_IN_SECTION(name)
#else
#define TZ_IN_SECTION(name) __attribute__((section(name)))
#endif

#if defined(TZ_BOARD_HOST)
#define TZ_MODEL_DATA alignas(16)
#else
#define TZ_MODEL_DATA alignas(16) TZ_IN_SECTION(TZ_MODEL_SECTION)
#endif

#define TZ_DEFINE_POOLS(method_bytes, temp_bytes)                                              \
  alignas(16) static uint8_t tz_method_pool[(method_bytes)] TZ_IN_SECTION(TZ_METHOD_POOL_SECTION); \
  alignas(16) static uint8_t tz_temp_pool[(temp_bytes)] TZ_IN_SECTION(TZ_TEMP_POOL_SECTION);       \
  static tz::MemoryPools tz_pools() {                                                          \
    tz::MemoryPools pools;                                                                     \
    pools.method = tz_method_pool;                                                             \
    pools.method_size = sizeof(tz_method_pool);                                                \
    pools.temp = tz_temp_pool;                                                                 \
    pools.temp_size = sizeof(tz_temp_pool);                                                    \
    return pools;                                                                              \
  }

#if defined(TZ_FAST_SCRATCH_SIZE) && !defined(TZ_BOARD_HOST)
/* Strong definitions of the Ethos-U delegate's weak fast-scratch symbols (Dedicated_Sram models). */
#define TZ_DEFINE_FAST_SCRATCH()                                                               \
  alignas(16) static unsigned char tz_fast_scratch[TZ_FAST_SCRATCH_SIZE]                       \
      TZ_IN_SECTION(TZ_FAST_SCRATCH_SECTION);                                                  \
  extern "C" {                                                                                 \
  unsigned char* ethosu_fast_scratch = tz_fast_scratch;                                        \
  size_t ethosu_fast_scratch_size = TZ_FAST_SCRATCH_SIZE;                                      \
  }
#else
#define TZ_DEFINE_FAST_SCRATCH()
#endif

#endif /* TZ_POOLS_H */
