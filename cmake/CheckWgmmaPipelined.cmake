# Fails when ptxas serialises stage 07's wgmma instructions: it then waits for each one before the next
# (its notes C7510-C7520, "wgmma.mma_async instructions are serialized"), a silent loss of speed that no
# output check sees. A branch around a wgmma, or accumulators that two paths define, is enough.
#
#   cmake -DNVCC=<nvcc> -DARCHITECTURES=<90a> -DSOURCE=<kernel.cu> -DINCLUDE=<stages/common> -DWORK=<folder>
#         -P CheckWgmmaPipelined.cmake
# ARCHITECTURES: the stage's own (swa_stage_settings in the top-level CMakeLists.txt), built as the stage is.
file(MAKE_DIRECTORY "${WORK}")
set(gencode)
foreach(arch IN LISTS ARCHITECTURES)
  list(APPEND gencode "-gencode=arch=compute_${arch},code=sm_${arch}")
endforeach()
if(NOT gencode)
  message(FATAL_ERROR "no ARCHITECTURES given: stage 07 declares its GPU in swa_stage_settings(07 ...)")
endif()
execute_process(
  COMMAND "${NVCC}" -std=c++17 -O3 ${gencode} -cubin -Xptxas=-v -I "${INCLUDE}" -o "${WORK}/stage07.cubin" "${SOURCE}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "nvcc failed on ${SOURCE}:\n${out}")
endif()
string(REGEX MATCHALL "[^\n]*(C75[0-9][0-9]|serialized)[^\n]*" notes "${out}")
if(notes)
  list(JOIN notes "\n" notes)
  message(FATAL_ERROR "ptxas serialises wgmma in ${SOURCE}:\n${notes}")
endif()
message(STATUS "${SOURCE}: no wgmma serialised")
