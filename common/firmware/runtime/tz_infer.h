// What every app does around its model: load the .pte from the app's pools and report what the method took, and
// one timed inference on an int8 input (set input 0, run, check that output 0 is the int8 tensor the app expects,
// and measure wall time, CPU cycles and NPU cycles (tz_platform.h) around the run).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tz_platform.h"
#include "tz_runtime.h"

namespace tz {

// Loads the .pte at `pte` into `model` from `pools` and logs one line (tests/test_firmware_host.py parses it;
// common/boards.py predicts the figures):
//   memory method_pool_used=<bytes> planned=<bytes> method_pool=<bytes> temp_pool=<bytes>
inline bool load_and_report(Model& model, const void* pte, size_t pte_size, const MemoryPools& pools) {
  if (model.load(pte, pte_size, pools) != Error::Ok) return false;
  const PoolUsage use = model.usage();
  tz_log("memory method_pool_used=%lu planned=%lu method_pool=%lu temp_pool=%lu\n", (unsigned long)use.method_used,
         (unsigned long)use.planned_bytes, (unsigned long)pools.method_size, (unsigned long)use.temp_size);
  return true;
}

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
