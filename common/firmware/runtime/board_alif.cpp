// Alif Ensemble E7 / E8 (Cortex-M55 RTSS-HP or RTSS-HE with a local Ethos-U55; E8 also an Ethos-U85).
//
// Unlike Corstone there is no core_platform target, so the app initialises the Ethos-U driver and its
// interrupt itself. The Alif SDK (Ensemble CMSIS DFP) brings up clocks, pins and the console UART
// (retarget) before main(); the NPU's clock must be enabled there too (SE services, as Alif's examples do).
//
// Names from the Alif Ensemble DFP / Alif's ML embedded evaluation kit: LOCAL_NPU_BASE (= NPU_HP_BASE or
// NPU_HE_BASE, 0x400E1000), IRQ 55 with handlers NPU_HP_IRQHandler / NPU_HE_IRQHandler; E8's U85 is
// NPU_HG_BASE (0x49042000) with IRQ 366. The numbers are repeated in tz_board.h so that this file compiles
// without the DFP; the NVIC is programmed through its architectural registers for the same reason.
#include <ethosu_driver.h>

#include "tz_board.h"
#include "tz_platform.h"

#ifndef TZ_NPU_SECURE
#define TZ_NPU_SECURE 1      // the NPU's transactions are secure, as in Alif's examples (secure world app)
#endif
#ifndef TZ_NPU_PRIVILEGED
#define TZ_NPU_PRIVILEGED 1
#endif

namespace {
struct ethosu_driver npu_driver;

// NVIC_ISER / NVIC_ICPR: architectural (Armv8-M), one bit per interrupt, 32 per word.
volatile uint32_t* const kNvicIser = reinterpret_cast<volatile uint32_t*>(0xE000E100UL);
volatile uint32_t* const kNvicIcpr = reinterpret_cast<volatile uint32_t*>(0xE000E280UL);
}  // namespace

extern "C" {

// Replaces the weak default handler of the DFP's vector table for the NPU interrupt.
void TZ_NPU_IRQ_HANDLER(void) { ethosu_irq_handler(&npu_driver); }

const char* tz_platform_name(void) { return TZ_BOARD_NAME; }

int tz_board_init(void) {
  // No fast memory (cache) region: Shared_Sram / Sram_Only models. A Dedicated_Sram model for the U85
  // would pass its SRAM cache buffer here instead.
  const int status = ethosu_init(&npu_driver, reinterpret_cast<void*>(TZ_NPU_BASE_ADDRESS), nullptr, 0,
                                 TZ_NPU_SECURE, TZ_NPU_PRIVILEGED);
  if (status != 0) {
    tz_log("tz_platform: ethosu_init failed (%d) at 0x%08lx: is the NPU clock on and the base address right "
           "for this core (TZ_NPU_BASE_ADDRESS)?\n",
           status, static_cast<unsigned long>(TZ_NPU_BASE_ADDRESS));
    return -1;
  }
  kNvicIcpr[TZ_NPU_IRQ / 32] = 1UL << (TZ_NPU_IRQ % 32);
  kNvicIser[TZ_NPU_IRQ / 32] = 1UL << (TZ_NPU_IRQ % 32);
  return 0;
}

}  // extern "C"
