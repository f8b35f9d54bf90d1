# compile_alone.cmake: compile a stage's kernel.cu as a submission is compiled: a copy in a folder of its
# own, stages/common alone on the include path. Succeeds only if the compiler REFUSES it (the planted
# cheat includes a solution's source, which must not be reachable).
#   cmake -DCOMPILER=nvcc -DCOMMON=stages/common -DSOURCE=kernel.cu -DWORK=dir -P compile_alone.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/stages/04_include_solution")
file(COPY "${SOURCE}" DESTINATION "${WORK}/stages/04_include_solution")
execute_process(COMMAND "${COMPILER}" -std=c++17 -E -I "${COMMON}" "${WORK}/stages/04_include_solution/kernel.cu"
                RESULT_VARIABLE result OUTPUT_QUIET ERROR_VARIABLE errors)
if(result EQUAL 0)
  message(FATAL_ERROR "a stage that includes solutions/ compiled: the solutions are reachable from a stage build")
endif()
string(FIND "${errors}" "solutions/04_online_softmax/kernel.cu" named)
if(named EQUAL -1)
  message(FATAL_ERROR "it failed, but not for want of the solution:\n${errors}")
endif()
message(STATUS "refused, as it must be: the solution's source is not reachable")
