# SwaStage.cmake: one function registers a stage.
#
#   swa_add_stage(student stages/03_masked_windows)
#   swa_add_stage(solution solutions/03_masked_windows)
#   swa_add_stage(planted solutions/04_online_softmax NAME 97_correct)
#
# builds <folder>/kernel.cu into the stage library ${CMAKE_BINARY_DIR}/stages/<variant>/<stage>.so, which
# exports swa_stage_api() (stages/common/problem.h, section 6). The grader, tests and benchmarks load it
# at run time, so any stage can be driven by either implementation.
#
# What differs per stage is the kit's to say, not the stage folder's (a submission's folder holds only
# kernel.cu: nothing in it can change how it is built). swa_stage_settings() records it by stage number:
#
#   swa_stage_settings(07 ARCHITECTURES 90a INCLUDES ${SOME_DIR})
#
#   ARCHITECTURES  the GPU targets of this stage instead of CMAKE_CUDA_ARCHITECTURES; a name ending in
#                  "a" (90a) is an arch-specific target (wgmma, setmaxnreg), built as
#                  -gencode=arch=compute_90a,code=sm_90a, which runs on that compute capability only
#   INCLUDES       extra include folders (a library's headers); never the solutions
#
# The include path of every stage is stages/common and its INCLUDES.

set(SWA_STAGE_OUTPUT_DIR "${CMAKE_BINARY_DIR}/stages")

function(swa_stage_settings number)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "ARCHITECTURES;INCLUDES")
  set_property(GLOBAL PROPERTY SWA_STAGE_${number}_ARCHITECTURES "${arg_ARCHITECTURES}")
  set_property(GLOBAL PROPERTY SWA_STAGE_${number}_INCLUDES "${arg_INCLUDES}")
endfunction()

# NAME: the library's name when it differs from its folder's.
function(swa_add_stage variant folder)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "NAME" "")
  get_filename_component(stage "${folder}" NAME)
  if(arg_NAME)
    set(stage "${arg_NAME}")
  endif()
  string(SUBSTRING "${stage}" 0 2 number)
  get_property(architectures GLOBAL PROPERTY SWA_STAGE_${number}_ARCHITECTURES)
  get_property(includes GLOBAL PROPERTY SWA_STAGE_${number}_INCLUDES)

  set(target swa_${variant}_${stage})
  add_library(${target} MODULE "${folder}/kernel.cu")
  target_link_libraries(${target} PRIVATE swa_contract)
  if(includes)
    target_include_directories(${target} SYSTEM PRIVATE ${includes})
  endif()
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME "${stage}"
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY "${SWA_STAGE_OUTPUT_DIR}/${variant}"
    CUDA_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    CUDA_RUNTIME_LIBRARY Shared)
  if(architectures)
    # CMake's CUDA_ARCHITECTURES cannot name arch-specific targets on every supported version: give nvcc
    # the -gencode pairs directly (real code only; an arch-specific target has no portable PTX).
    set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES OFF)
    foreach(arch IN LISTS architectures)
      target_compile_options(${target} PRIVATE
        "$<$<COMPILE_LANGUAGE:CUDA>:-gencode=arch=compute_${arch},code=sm_${arch}>")
    endforeach()
  endif()
  # -lineinfo: source lines in profilers and compute-sanitizer; ptxas warns about register spills and
  # local memory, which are usually a performance bug in a kernel meant to keep its tiles in registers.
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-Xptxas=-warn-spills,-warn-lmem-usage>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${SWA_LINEINFO}>>:-lineinfo>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${SWA_PTXAS_VERBOSE}>>:-Xptxas=-v>)
  # An untouched starter declares the variables its TODO steps fill in: "declared but never referenced"
  # (nvcc's warning 177) is expected there, and would bury the warnings that matter.
  if(variant STREQUAL "student")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--diag-suppress=177>)
  endif()
  set_property(GLOBAL APPEND PROPERTY SWA_STAGE_TARGETS ${target})
  set_property(GLOBAL APPEND PROPERTY SWA_STAGES_${variant} ${stage})
  # The CUDA-core stages can also be checked on the CPU (grader/cpu).
  if(number IN_LIST SWA_CPU_CHECK_STAGES AND NOT variant STREQUAL "planted")
    swa_add_cpu_stage(${variant} "${folder}" NAME ${stage})
  endif()
endfunction()

# swa_add_stages(<variant> <folder>): every numbered subfolder with a kernel.cu (01_naive, 02_...).
function(swa_add_stages variant folder)
  file(GLOB dirs LIST_DIRECTORIES true "${folder}/[0-9][0-9]_*")
  list(SORT dirs)
  foreach(dir IN LISTS dirs)
    if(EXISTS "${dir}/kernel.cu")
      swa_add_stage(${variant} "${dir}")
    endif()
  endforeach()
endfunction()

# swa_add_cpu_stage(<variant> <folder> [NAME <name>] [PLANT <fault>]): the same kernel.cu compiled for the
# host, for the CPU check (grader/cpu), into ${CMAKE_BINARY_DIR}/stages/cpu-<variant>/<stage>.so. PLANT
# names a fault of grader/cpu/host_source.py to plant (for the CPU check's own tests).
# Not part of `all`: a kernel.cu that the host cannot compile must never stop the GPU build; the target
# cpu_stages builds them.
function(swa_add_cpu_stage variant folder)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "NAME;PLANT" "")
  get_filename_component(stage "${folder}" NAME)
  if(arg_NAME)
    set(stage "${arg_NAME}")
  endif()
  set(source "${CMAKE_BINARY_DIR}/cpu-sources/${variant}/${stage}.cpp")
  set(plant "")
  if(arg_PLANT)
    set(plant --plant ${arg_PLANT})
  endif()
  add_custom_command(
    OUTPUT "${source}"
    COMMAND ${Python3_EXECUTABLE} "${PROJECT_SOURCE_DIR}/grader/cpu/host_source.py" "${folder}/kernel.cu" "${source}"
            ${plant}
    DEPENDS "${folder}/kernel.cu" "${PROJECT_SOURCE_DIR}/grader/cpu/host_source.py"
    COMMENT "Rewriting ${variant} ${stage} for the CPU check"
    VERBATIM)
  set(target swa_cpu_${variant}_${stage})
  add_library(${target} MODULE EXCLUDE_FROM_ALL "${source}")
  add_dependencies(${target} swa_cpu_common)
  target_include_directories(${target} BEFORE PRIVATE "${CMAKE_BINARY_DIR}/cpu-common")
  target_link_libraries(${target} PRIVATE swa_cpu_shim)
  target_compile_options(${target} PRIVATE -include "${PROJECT_SOURCE_DIR}/grader/cpu/cuda_cpu.h"
                                           -fno-strict-aliasing -Wno-unknown-pragmas -Wno-unused-variable -Wno-unused-parameter)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME "${stage}"
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY "${SWA_STAGE_OUTPUT_DIR}/cpu-${variant}"
    CXX_VISIBILITY_PRESET hidden)
  set_property(GLOBAL APPEND PROPERTY SWA_CPU_STAGE_TARGETS ${target})
endfunction()
