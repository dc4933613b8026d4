/*
 * tz_board — per-board constants: where each buffer goes (linker section) and the NPU's address and
 * interrupt. Select the board with one define (the CMake option TZ_BOARD sets it):
 *
 *   TZ_BOARD_HOST          the host build (no sections, no NPU)
 *   TZ_BOARD_CORSTONE300   SSE-300: Cortex-M55 + Ethos-U55 (or U65), FVP_Corstone_SSE-300_Ethos-U55 / MPS3 AN552
 *   TZ_BOARD_CORSTONE320   SSE-320: Cortex-M85 + Ethos-U85, FVP_Corstone_SSE-320 / MPS4
 *   TZ_BOARD_ALIF_E7       Alif Ensemble E7, RTSS-HP (M55 + U55-256) or, with TZ_ALIF_CORE_HE, RTSS-HE (U55-128)
 *   TZ_BOARD_ALIF_E8       Alif Ensemble E8, RTSS-HP with the Ethos-U85-256 (TZ_ALIF_NPU_U85) or the local U55
 *
 * Section names: the Corstone ones are those of ExecuTorch's examples/arm/executor_runner linker scripts
 * (Corstone-300.ld / Corstone-320.ld), so the cross build links with them unchanged. The Alif ones are those
 * of Alif's ML embedded evaluation kit linker scripts (alifsemi/alif_ml-embedded-evaluation-kit,
 * scripts/cmake/platforms/alif/<part>/rtss_hp/RTSS-HP.ld): model in MRAM (nn_model), NPU arena in SRAM
 * (.bss.NoInit.activation_buf_sram). Override any of them with -DTZ_..._SECTION=\"name\".
 */
#ifndef TZ_BOARD_H
#define TZ_BOARD_H

#if defined(TZ_BOARD_HOST)
#define TZ_BOARD_NAME "host"

#elif defined(TZ_BOARD_CORSTONE300) || defined(TZ_BOARD_CORSTONE320)
#if defined(TZ_BOARD_CORSTONE300)
#define TZ_BOARD_NAME "corstone-300"
/* SSE-300 Ethos-U55/U65 at 0x48102000, IRQ 56: the values TensorFlow Lite Micro's
 * cortex_m_corstone_300/system_setup.cc initialises the driver with (Arm's ML embedded evaluation kit uses
 * the other security alias, 0x58102000). Informational here: see below. */
#define TZ_NPU_BASE_ADDRESS 0x48102000UL
#define TZ_NPU_IRQ 56
#else
#define TZ_BOARD_NAME "corstone-320"
/* SSE-320 Ethos-U85: base 0x50004000 (secure), IRQ 16, as in ethos-u-core-platform targets/corstone-320.
 * [UNVERIFIED here: read from memory of the platform sources, not re-checked] */
#define TZ_NPU_BASE_ADDRESS 0x50004000UL
#define TZ_NPU_IRQ 16
#endif
/* On Corstone the ethos-u-core-platform target library (linked by the ExecuTorch cross build) initialises
 * the NPU driver and its interrupt before main(); the app does not (TZ_APP_INITS_NPU undefined). */
#ifndef TZ_MODEL_SECTION
#define TZ_MODEL_SECTION "network_model_sec"
#endif
#ifndef TZ_METHOD_POOL_SECTION
#define TZ_METHOD_POOL_SECTION ".bss.method_allocator_sec"
#endif
#ifndef TZ_TEMP_POOL_SECTION
#define TZ_TEMP_POOL_SECTION ".bss.tensor_arena"
#endif
#ifndef TZ_FAST_SCRATCH_SECTION
#define TZ_FAST_SCRATCH_SECTION ".bss.ethosu_scratch"
#endif

#elif defined(TZ_BOARD_ALIF_E7) || defined(TZ_BOARD_ALIF_E8)
#if defined(TZ_BOARD_ALIF_E7)
#define TZ_BOARD_NAME "alif-e7"
#else
#define TZ_BOARD_NAME "alif-e8"
#endif
/* The app brings up the NPU itself (there is no core_platform target for Alif). */
#define TZ_APP_INITS_NPU 1
#if defined(TZ_BOARD_ALIF_E8) && defined(TZ_ALIF_NPU_U85)
/* E8's Ethos-U85 ("NPU_HG"), shared by the M55 cores: base NPU_HG_BASE = 0x49042000, IRQ 366
 * (IRQ366_Handler). Source: public Arm/Alif E8 examples that call ethosu_init((void*)NPU_HG_BASE, ...);
 * [UNVERIFIED against the Alif Ensemble DFP header itself]. */
#define TZ_NPU_BASE_ADDRESS 0x49042000UL
#define TZ_NPU_IRQ 366
#define TZ_NPU_IRQ_HANDLER IRQ366_Handler
#else
/* The core-local Ethos-U55 of RTSS-HP (NPU_HP_BASE) or RTSS-HE (NPU_HE_BASE): both 0x400E1000 in the
 * core's own address map, IRQ 55, handlers NPU_HP_IRQHandler / NPU_HE_IRQHandler (Alif Ensemble CMSIS DFP
 * M55_HP.h / M55_HE.h names LOCAL_NPU_BASE, LOCAL_NPU_IRQ_IRQn, LOCAL_NPU_IRQHandler). */
#define TZ_NPU_BASE_ADDRESS 0x400E1000UL
#define TZ_NPU_IRQ 55
#if defined(TZ_ALIF_CORE_HE)
#define TZ_NPU_IRQ_HANDLER NPU_HE_IRQHandler
#else
#define TZ_NPU_IRQ_HANDLER NPU_HP_IRQHandler
#endif
#endif
#ifndef TZ_MODEL_SECTION
#define TZ_MODEL_SECTION "nn_model"
#endif
#ifndef TZ_METHOD_POOL_SECTION
#define TZ_METHOD_POOL_SECTION ".bss.tz_method_pool"  /* falls into .bss (DTCM) in Alif's scripts */
#endif
#ifndef TZ_TEMP_POOL_SECTION
#define TZ_TEMP_POOL_SECTION ".bss.NoInit.activation_buf_sram"
#endif
#ifndef TZ_FAST_SCRATCH_SECTION
#define TZ_FAST_SCRATCH_SECTION ".bss.NoInit.ethos_u_cache"
#endif

#else
#error "Define one board: TZ_BOARD_HOST, TZ_BOARD_CORSTONE300, TZ_BOARD_CORSTONE320, TZ_BOARD_ALIF_E7 or TZ_BOARD_ALIF_E8"
#endif

#endif /* TZ_BOARD_H */
