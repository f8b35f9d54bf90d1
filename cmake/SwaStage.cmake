# SwaStage.cmake: one function registers a stage.
#
#   swa_add_stage(student stages/03_masked_windows)
#   swa_add_stage(solution solutions/03_masked_windows)
#   swa_add_stage(planted solutions/04_online_softmax 97_correct)
#
# builds <folder>/kernel.cu into the stage library ${CMAKE_BINARY_DIR}/stages/<variant>/<stage>.so, which
# exports swa_stage_api() (stages/common/problem.h, section 6). The grader, tests and benchmarks load it
# at run time, so any stage can be driven by either implementation.

set(SWA_STAGE_OUTPUT_DIR "${CMAKE_BINARY_DIR}/stages")

# An optional third argument names the library differently from its folder.
function(swa_add_stage variant folder)
  get_filename_component(stage "${folder}" NAME)
  if(ARGC GREATER 2)
    set(stage "${ARGV2}")
  endif()
  set(target swa_${variant}_${stage})
  add_library(${target} MODULE "${folder}/kernel.cu")
  target_link_libraries(${target} PRIVATE swa_contract)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME "${stage}"
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY "${SWA_STAGE_OUTPUT_DIR}/${variant}"
    CUDA_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    CUDA_RUNTIME_LIBRARY Shared)
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
