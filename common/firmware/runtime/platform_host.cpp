// Host implementation of tz_platform.h: std::chrono for time, printf for the console, no NPU.
// The ExecuTorch PAL (logging, clock) comes from libexecutorch.so's default POSIX implementation.
#include <stdarg.h>
#include <stdio.h>

#include <chrono>

#include "tz_platform.h"

namespace {
const std::chrono::steady_clock::time_point kStart = std::chrono::steady_clock::now();
}

extern "C" {

int tz_platform_init(void) { return 0; }

const char* tz_platform_name(void) { return "host"; }

uint64_t tz_time_us(void) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - kStart).count());
}

// The host has no architectural cycle counter we may read portably; nanoseconds stand in so that
// "cycles" stays monotonic and comparable between runs on one machine.
uint64_t tz_cpu_cycles(void) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - kStart).count());
}

uint64_t tz_npu_cycles(void) { return 0; }
uint32_t tz_npu_jobs(void) { return 0; }
void tz_npu_cycles_reset(void) {}

void tz_log(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vprintf(fmt, args);
  va_end(args);
  fflush(stdout);
}

}  // extern "C"
