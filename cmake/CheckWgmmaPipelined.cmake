# Fails when ptxas serialises stage 07's wgmma instructions: it then waits for each one before the next
# (its notes C7510-C7520, "wgmma.mma_async instructions are serialized"), a silent loss of speed that no
# output check sees. A branch around a wgmma, or accumulators that two paths define, is enough.
#
#   cmake -DNVCC=<nvcc> -DSOURCE=<kernel.cu> -DINCLUDE=<stages/common> -DWORK=<folder> -P CheckWgmmaPipelined.cmake
file(MAKE_DIRECTORY "${WORK}")
execute_process(
  COMMAND "${NVCC}" -std=c++17 -O3 -gencode=arch=compute_90a,code=sm_90a -cubin -Xptxas=-v -I "${INCLUDE}"
          -o "${WORK}/stage07.cubin" "${SOURCE}"
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
