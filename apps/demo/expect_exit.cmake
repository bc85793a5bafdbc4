# Runs COMMAND with ARGS (one string, split like a shell would) and passes only when it exits
# with EXPECTED_EXIT. CTest's WILL_FAIL would also pass on a crash; this does not.
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND "${COMMAND}" ${args} RESULT_VARIABLE result)
if(NOT "${result}" STREQUAL "${EXPECTED_EXIT}")
  message(FATAL_ERROR "${COMMAND} ${ARGS}: exit status ${result}, expected ${EXPECTED_EXIT}")
endif()
