// One timed inference on an int8 input, shared by the apps: set input 0, run, check that output 0 is the int8
// tensor the app expects, and measure wall time, CPU cycles and NPU cycles (tz_platform.h) around the run.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tz_platform.h"
#include "tz_runtime.h"

namespace tz {

struct Timing {
  uint64_t time_us = 0;
  uint64_t cpu_cycles = 0;
  uint64_t npu_cycles = 0;
};

// Returns output 0's int8 values if it holds `expected_numel` of them, else nullptr after logging why
// (`expected` describes the wanted output in that message, e.g. "(1, 12) int8 scores").
inline const int8_t* run_int8(Model& model, const int8_t* input, size_t nbytes, size_t expected_numel,
                              const char* expected, Timing* timing) {
  if (model.set_input(0, input, nbytes, ScalarType::Char) != Error::Ok) return nullptr;
  tz_npu_cycles_reset();
  const uint64_t t0 = tz_time_us();
  const uint64_t c0 = tz_cpu_cycles();
  if (model.run() != Error::Ok) return nullptr;
  timing->cpu_cycles = tz_cpu_cycles() - c0;
  timing->time_us = tz_time_us() - t0;
  timing->npu_cycles = tz_npu_cycles();
  const TensorView out = model.output(0);
  if (out.dtype != ScalarType::Char || out.numel != expected_numel) {
    tz_log("error: output 0 is %s with %lu values; this app expects %s\n", dtype_name(out.dtype),
           (unsigned long)out.numel, expected);
    return nullptr;
  }
  return static_cast<const int8_t*>(out.data);
}

}  // namespace tz
