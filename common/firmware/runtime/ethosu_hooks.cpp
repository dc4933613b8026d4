// Ethos-U driver callbacks (weak in ethos-u-core-driver): count NPU active cycles with the NPU's own PMU
// around every job the delegate submits. The cycle counter starts on NPU_ACTIVE and stops on NPU_IDLE, so it
// measures NPU work only; the sum over jobs is the NPU time of one inference. Compile with the driver's
// ETHOSU55 / ETHOSU65 / ETHOSU85 define (the ExecuTorch cross build sets it from ETHOSU_TARGET_NPU_CONFIG).
#include <ethosu_driver.h>
#include <pmu_ethosu.h>

#include "tz_platform.h"

namespace {
volatile uint64_t npu_cycles = 0;
volatile uint32_t npu_jobs = 0;
}  // namespace

extern "C" {

void ethosu_inference_begin(struct ethosu_driver* drv, void* user_arg) {
  (void)user_arg;
  ETHOSU_PMU_Enable(drv);
  ETHOSU_PMU_PMCCNTR_CFG_Set_Start_Event(drv, ETHOSU_PMU_NPU_ACTIVE);
  ETHOSU_PMU_PMCCNTR_CFG_Set_Stop_Event(drv, ETHOSU_PMU_NPU_IDLE);
  ETHOSU_PMU_CNTR_Enable(drv, ETHOSU_PMU_CCNT_Msk);
  ETHOSU_PMU_CYCCNT_Reset(drv);
}

void ethosu_inference_end(struct ethosu_driver* drv, void* user_arg) {
  (void)user_arg;
  npu_cycles = npu_cycles + ETHOSU_PMU_Get_CCNTR(drv);
  npu_jobs = npu_jobs + 1;
  ETHOSU_PMU_Disable(drv);
}

uint64_t tz_npu_cycles(void) { return npu_cycles; }
uint32_t tz_npu_jobs(void) { return npu_jobs; }
void tz_npu_cycles_reset(void) {
  npu_cycles = 0;
  npu_jobs = 0;
}

}  // extern "C"
