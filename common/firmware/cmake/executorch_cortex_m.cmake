# Device build: ExecuTorch v1.5.1 compiled from source for Cortex-M with the Ethos-U delegate, the Ethos-U core
# driver and (Corstone) the core_platform target library. NOT BUILT IN THIS REPOSITORY'S CI: it needs the
# network (or local checkouts) and the Arm toolchain; see README.md "Device build" for the exact commands.
#
# EXECUTORCH_ROOT: an ExecuTorch checkout at v1.5.1 (with submodules). Unset: FetchContent clones the tag.
# ETHOS_SDK_PATH: ethos-u checkout (core_software/core_driver, core_platform) as ExecuTorch's
#   examples/arm/setup.sh leaves it (examples/arm/arm-scratch/ethos-u). Unset: ExecuTorch fetches it
#   (FETCH_ETHOS_U_CONTENT, ethos-u tag 26.05.1).
set(EXECUTORCH_ROOT "" CACHE PATH "ExecuTorch v1.5.1 source checkout (empty: fetch it)")
set(TZ_EXECUTORCH_TAG "v1.5.1")
set(ETHOSU_TARGET_NPU_CONFIG "${TZ_TARGET}" CACHE STRING "e.g. ethos-u55-128 (the target of the embedded .pte)")

if(NOT EXECUTORCH_ROOT)
  include(FetchContent)
  FetchContent_Declare(executorch GIT_REPOSITORY https://github.com/pytorch/executorch.git
                       GIT_TAG ${TZ_EXECUTORCH_TAG} GIT_SHALLOW TRUE GIT_SUBMODULES_RECURSE TRUE)
  FetchContent_GetProperties(executorch)
  if(NOT executorch_POPULATED)
    FetchContent_Populate(executorch)
  endif()
  set(EXECUTORCH_ROOT "${executorch_SOURCE_DIR}")
endif()

# The options of ExecuTorch's arm-baremetal preset (tools/cmake/preset/arm_baremetal.cmake).
set(EXECUTORCH_BUILD_ARM_BAREMETAL ON CACHE BOOL "")
set(EXECUTORCH_BUILD_KERNELS_QUANTIZED ON CACHE BOOL "")
set(EXECUTORCH_BUILD_EXTENSION_RUNNER_UTIL ON CACHE BOOL "")
set(EXECUTORCH_BUILD_CORTEX_M ON CACHE BOOL "")
set(EXECUTORCH_ENABLE_LOGGING ON CACHE BOOL "")
set(EXECUTORCH_PAL_DEFAULT minimal CACHE STRING "")   # our platform_cortex_m.cpp provides the PAL
add_subdirectory("${EXECUTORCH_ROOT}" "${CMAKE_BINARY_DIR}/executorch")

set(TZ_EXECUTORCH_LIBS executorch extension_runner_util ethosu_core_driver)
if(TZ_TARGET MATCHES "^ethos-u85")
  set(_npu ETHOSU85)
elseif(TZ_TARGET MATCHES "^ethos-u65")
  set(_npu ETHOSU65)
else()
  set(_npu ETHOSU55)
endif()
add_compile_definitions(${_npu})

# Links one app: the Ethos-U delegate whole (its static registrar must run), the portable and quantized kernels
# (an Ethos-U program with every op on the NPU needs none, but a CPU fallback op would), the board's linker script.
function(tz_link_device_app app)
  target_link_libraries(${app} PRIVATE
    "-Wl,--whole-archive" executorch_delegate_ethos_u "-Wl,--no-whole-archive"
    portable_ops_lib portable_kernels quantized_ops_lib quantized_kernels)
  if(TZ_BOARD STREQUAL "corstone-300")
    set(_ld "${EXECUTORCH_ROOT}/examples/arm/executor_runner/Corstone-300.ld")
    target_link_libraries(${app} PRIVATE ethosu_target_init)   # core_platform targets/corstone-300
  elseif(TZ_BOARD STREQUAL "corstone-320")
    set(_ld "${EXECUTORCH_ROOT}/examples/arm/executor_runner/Corstone-320.ld")
    target_link_libraries(${app} PRIVATE ethosu_target_init)   # core_platform targets/corstone-320
  else()
    set(_ld "${TZ_ALIF_LINKER_SCRIPT}")                          # from the Alif SDK / ML eval kit
    if(NOT _ld)
      message(FATAL_ERROR "set TZ_ALIF_LINKER_SCRIPT to your Alif part's RTSS-HP linker script and link the "
                          "Alif device start-up library (TZ_ALIF_DEVICE_LIBS)")
    endif()
    target_link_libraries(${app} PRIVATE ${TZ_ALIF_DEVICE_LIBS})
  endif()
  # ExecuTorch's Corstone scripts place model_pte in SRAM unless ETHOSU_MODEL=1 and the arena in SRAM with
  # ETHOSU_ARENA=0 (Shared_Sram / Sram_Only); they are run through the C preprocessor, as ExecuTorch does.
  target_link_options(${app} PRIVATE "-T${_ld}" "-Wl,-Map=$<TARGET_FILE:${app}>.map")
endfunction()
