# Toolchain file: bare-metal Arm Cortex-M with arm-none-eabi-gcc (Debian's gcc-arm-none-eabi or Arm GNU 15.2).
#   cmake -DCMAKE_TOOLCHAIN_FILE=common/firmware/cmake/arm-none-eabi-gcc.cmake -DTZ_CPU=cortex-m55 ...
# TZ_CPU: cortex-m55 (Corstone-300, Alif E7/E8) or cortex-m85 (Corstone-320). Unlike ExecuTorch's own toolchain
# file, cortex-m85 is passed to -mcpu as is (GCC >= 12 knows it).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(TZ_CPU "cortex-m55" CACHE STRING "cortex-m55 or cortex-m85")
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)   # no board start-up code at configure time

# GCC 12 (Debian bookworm's gcc-arm-none-eabi) predates -mcpu=cortex-m85: use the M85's architecture instead.
execute_process(COMMAND ${CMAKE_C_COMPILER} -mcpu=${TZ_CPU} -mthumb -E -x c /dev/null -o /dev/null
                RESULT_VARIABLE _cpu_unknown OUTPUT_QUIET ERROR_QUIET)
if(_cpu_unknown AND TZ_CPU STREQUAL "cortex-m85")
  set(_cpu_flag "-march=armv8.1-m.main+mve.fp+fp.dp")
else()
  set(_cpu_flag "-mcpu=${TZ_CPU}")
endif()
set(_flags "${_cpu_flag} -mthumb -mfloat-abi=hard -ffunction-sections -fdata-sections")
set(CMAKE_C_FLAGS_INIT "${_flags}")
set(CMAKE_CXX_FLAGS_INIT "${_flags} -fno-exceptions -fno-rtti -fno-unwind-tables")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--gc-sections --specs=nosys.specs")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
