// Cortex-M implementation of tz_platform.h shared by every board: the DWT cycle counter for time,
// printf for the console (the board's retarget layer sends it to the UART, or semihosting when linked with
// rdimon.specs, as the ExecuTorch Arm runner does), and the ExecuTorch platform abstraction (PAL).
//
// The DWT registers are architectural (Armv7-M/Armv8-M debug: DEMCR 0xE000EDFC, DWT_CTRL 0xE0001000,
// DWT_CYCCNT 0xE0001004), so this file needs no CMSIS device header and compiles for any M-profile core.
// Board specifics (name, NPU bring-up) are in board_<name>.cpp through tz_board_init().
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <executorch/runtime/platform/platform.h>

#include "tz_board.h"
#include "tz_platform.h"

#ifndef TZ_CPU_HZ
// Core clock used to turn cycles into microseconds; set it for your board (-DTZ_CPU_HZ=400000000 for
// Alif RTSS-HP). The Corstone FVPs do not model CPU time, so any value only scales their "time".
#define TZ_CPU_HZ 25000000ULL
#endif

extern "C" int tz_board_init(void);  // board_<name>.cpp

namespace {
volatile uint32_t* const kDemcr = reinterpret_cast<volatile uint32_t*>(0xE000EDFCUL);
volatile uint32_t* const kDwtCtrl = reinterpret_cast<volatile uint32_t*>(0xE0001000UL);
volatile uint32_t* const kDwtCyccnt = reinterpret_cast<volatile uint32_t*>(0xE0001004UL);
constexpr uint32_t kDemcrTrcena = 1UL << 24;
constexpr uint32_t kDwtCtrlCyccntena = 1UL << 0;
constexpr uint32_t kDwtCtrlNocyccnt = 1UL << 25;  // set when the core has no cycle counter

bool cycle_counter_present = false;
uint32_t last_cyccnt = 0;
uint64_t cycle_high = 0;  // extends the 32-bit CYCCNT; correct if read at least once per wrap (~10 s at 400 MHz)
}  // namespace

extern "C" {

int tz_platform_init(void) {
  *kDemcr |= kDemcrTrcena;
  cycle_counter_present = (*kDwtCtrl & kDwtCtrlNocyccnt) == 0;
  if (cycle_counter_present) {
    *kDwtCyccnt = 0;
    *kDwtCtrl |= kDwtCtrlCyccntena;
  }
  return tz_board_init();
}

uint64_t tz_cpu_cycles(void) {
  if (!cycle_counter_present) return 0;
  const uint32_t now = *kDwtCyccnt;
  if (now < last_cyccnt) cycle_high += 1ULL << 32;
  last_cyccnt = now;
  return cycle_high | now;
}

uint64_t tz_time_us(void) { return tz_cpu_cycles() / (TZ_CPU_HZ / 1000000ULL); }

void tz_log(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vprintf(fmt, args);
  va_end(args);
}

// ---- ExecuTorch PAL: strong definitions replace the runtime's weak defaults ------------------------------

void et_pal_init(void) {}

ET_NORETURN void et_pal_abort(void) {
  tz_log("executorch: abort\n");
  abort();
}

et_timestamp_t et_pal_current_ticks(void) { return tz_cpu_cycles(); }

et_tick_ratio_t et_pal_ticks_to_ns_multiplier(void) {
  // ns per tick = 1e9 / TZ_CPU_HZ, as a ratio.
  return {1000000000ULL / 1000000ULL, TZ_CPU_HZ / 1000000ULL};
}

void et_pal_emit_log_message(ET_UNUSED et_timestamp_t timestamp, et_pal_log_level_t level, const char* filename,
                             ET_UNUSED const char* function, size_t line, const char* message,
                             ET_UNUSED size_t length) {
  tz_log("%c [executorch:%s:%lu] %s\n", static_cast<char>(level), filename, static_cast<unsigned long>(line),
         message);
}

// The runtime is given all its memory through the pools; a call here means something asked for heap.
void* et_pal_allocate(ET_UNUSED size_t size) { return nullptr; }
void et_pal_free(ET_UNUSED void* ptr) {}

}  // extern "C"
