# Stage 07's timing variants: the solution built again with other compile-time switches (kernel.cu,
# "Switches"), so that one run on the GPU machine times them side by side (bench_variants.sh beside this).
#
#   cmake --preset gpu -DSWA_STAGE07_VARIANTS=ON && cmake --build --preset gpu --target stage07_variants
#
# Each is a stage library named 07_<variant> under <build>/stages/experiments/solution/, the layout that
# `swa bench --stages-dir <build>/stages/experiments --variant solution` reads (its --variant accepts only
# solution and student). A variant is checked only by the bench's own output check, at the bench's shapes;
# the test suite and the grader check the default build alone.
option(SWA_STAGE07_VARIANTS "Also build stage 07's timing variants (solutions/07_hopper/experiments.cmake)" OFF)
set(SWA_STAGE07_DIR "${CMAKE_CURRENT_LIST_DIR}")

function(swa_stage07_variant name)
  set(target swa_experiments_07_${name})
  swa_add_stage(experiments "${SWA_STAGE07_DIR}" NAME 07_${name})
  target_compile_definitions(${target} PRIVATE "SWA07_NAME=\"07_${name}\"" ${ARGN})
  set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${SWA_STAGE_OUTPUT_DIR}/experiments/solution")
  set_property(GLOBAL APPEND PROPERTY SWA_STAGE07_VARIANT_TARGETS ${target})
endfunction()

if(SWA_STAGE07_VARIANTS)
  swa_stage07_variant(a_default)  # the stage as it is
  swa_stage07_variant(b_pv_overlap SWA07_OVERLAP=1)  # P V of the last key tile under the softmax of this one
  swa_stage07_variant(c_two_consumers SWA07_CONSUMERS_D64=2)  # two consumers at D = 64: a ring of 10 stages
  swa_stage07_variant(d_three_consumers SWA07_CONSUMERS_D64=3)  # three at D = 64, 160 registers each
  swa_stage07_variant(e_unshared SWA07_SPLIT_KEYS=0)  # a one-tile band is one consumer's
  swa_stage07_variant(f_new_max_every_tile SWA07_KEEP_MAX=0)  # every key tile: row max, alpha, O rescaled
  swa_stage07_variant(i_overlap_three_consumers SWA07_OVERLAP=1 SWA07_CONSUMERS_D64=3)  # b with d's registers
  swa_stage07_variant(n_store_at_once SWA07_DEFER_STORE=0)  # D = 128: both halves of O stored at the tile's end
  swa_stage07_variant(o_q_in_shared SWA07_Q_REGISTERS=0)  # D = 128: S = Q K^T reads Q from shared memory
  swa_stage07_variant(p_narrow_pv SWA07_WIDE_PV=0)  # D = 128: O += P V as two m64n64k16 per k-step
  swa_stage07_variant(q_d128_as_before SWA07_Q_REGISTERS=0 SWA07_WIDE_PV=0)  # both: the stage of commit 633b97c
  # D = 64 with Q in registers: three consumers (four of 112 registers spill), one Q buffer each
  swa_stage07_variant(s_q_registers_three_consumers SWA07_Q_REGISTERS=2 SWA07_CONSUMERS_D64=3 SWA07_Q_STAGES=1)
  swa_stage07_variant(x_launch_only SWA07_DIAGNOSTIC=1)  # returns at once: the launch and the timing's cost
  swa_stage07_variant(y_no_tensor_cores SWA07_DIAGNOSTIC=2)  # loads, barriers, softmax and stores; no wgmma
  get_property(targets GLOBAL PROPERTY SWA_STAGE07_VARIANT_TARGETS)
  add_custom_target(stage07_variants DEPENDS ${targets})
endif()
