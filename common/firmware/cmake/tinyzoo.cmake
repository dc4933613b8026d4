# tz_add_app(NAME <binary> SOURCE <main.cpp> MODEL <task/model>)
#
# One reference app: its main.cpp, the shared runtime and front ends, and app_model.h generated from the
# model's published metrics.json (labels, int8 scales, front-end config). For a device build the target's
# model.pte and the model's reference_input.bin are embedded too.
function(tz_add_app)
  cmake_parse_arguments(APP "" "NAME;SOURCE;MODEL" "" ${ARGN})
  set(_artifacts "${TZ_ARTIFACTS_ROOT}/${APP_MODEL}")
  set(_gen_dir "${CMAKE_CURRENT_BINARY_DIR}/generated")
  set(_header "${_gen_dir}/app_model.h")
  set(_args "${_artifacts}" -o "${_header}")
  set(_depends "${_artifacts}/metrics.json")
  if(NOT TZ_BOARD STREQUAL "host")
    if(NOT TZ_TARGET)
      message(FATAL_ERROR "device build: set TZ_TARGET to the Ethos-U target whose model.pte to embed "
                          "(one of the folders in ${_artifacts})")
    endif()
    list(APPEND _args --pte "${_artifacts}/${TZ_TARGET}/model.pte" --input "${_artifacts}/reference_input.bin")
    list(APPEND _depends "${_artifacts}/${TZ_TARGET}/model.pte" "${_artifacts}/reference_input.bin")
  endif()
  add_custom_command(
    OUTPUT "${_header}"
    COMMAND ${CMAKE_COMMAND} -E env "PYTHONPATH=${TZ_REPO_ROOT}"
            ${Python3_EXECUTABLE} -m common.firmware.app_header ${_args}
    DEPENDS ${_depends} "${TZ_REPO_ROOT}/common/firmware/app_header.py"
    COMMENT "app_model.h for ${APP_MODEL}"
    VERBATIM)
  add_executable(${APP_NAME} "${APP_SOURCE}" "${_header}")
  target_include_directories(${APP_NAME} PRIVATE "${_gen_dir}")
  target_link_libraries(${APP_NAME} PRIVATE tz_runtime tz_frontend)
  if(TZ_BOARD STREQUAL "host")
    # Run from the build tree or after copying: the wheel's libraries are found through RPATH.
    set_target_properties(${APP_NAME} PROPERTIES BUILD_RPATH "${EXECUTORCH_RUNTIME_LIBRARY_DIR}")
  else()
    tz_link_device_app(${APP_NAME})
  endif()
  set_target_properties(${APP_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}")
endfunction()
