/*
 * tz_platform — the few things an app needs from the board: start-up, a monotonic clock, a CPU cycle
 * counter, the NPU's active-cycle counter and a console. One implementation per board family:
 *
 *   platform_host.cpp        host build (std::chrono, printf); no NPU
 *   platform_cortex_m.cpp    every Cortex-M board: DWT cycle counter, printf through the board's retarget
 *                            (UART or semihosting), the ExecuTorch PAL hooks
 *   board_corstone.cpp       Corstone-300 (M55 + U55/U65) and Corstone-320 (M85 + U85) FVPs / MPS3 / MPS4
 *   board_alif.cpp           Alif Ensemble E7 (U55) and E8 (U55, U85)
 *   ethosu_hooks.cpp         Ethos-U driver callbacks: NPU PMU cycle counter around every NPU job
 *
 * C linkage so the C front ends can log through the same console.
 */
#ifndef TZ_PLATFORM_H
#define TZ_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Board bring-up: cycle counters, and on boards where the app owns the NPU, the Ethos-U driver.
 * Returns 0, or a negative code after logging what failed. Call once, first thing in main(). */
int tz_platform_init(void);

/* Human-readable board name, e.g. "host", "corstone-300". */
const char *tz_platform_name(void);

/* Monotonic microseconds since an arbitrary start (on Cortex-M from the cycle counter and TZ_CPU_HZ). */
uint64_t tz_time_us(void);

/* CPU cycles since an arbitrary start; 0 where the core has no cycle counter. On the Corstone FVPs this
 * counts instructions rather than real cycles (the FVP CPU is not cycle accurate). */
uint64_t tz_cpu_cycles(void);

/* NPU active cycles summed over all NPU jobs since the last tz_npu_cycles_reset(), read from the Ethos-U
 * PMU cycle counter (start on NPU_ACTIVE, stop on NPU_IDLE). 0 on the host. */
uint64_t tz_npu_cycles(void);
uint32_t tz_npu_jobs(void);
void tz_npu_cycles_reset(void);

/* printf-style console output; a line ends where the format says. */
void tz_log(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif /* TZ_PLATFORM_H */
