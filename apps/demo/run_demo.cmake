# Runs COMMAND with ARGS (one string, split like a shell would) and passes only when
#   - it exits with EXPECTED_EXIT (CTest's WILL_FAIL would also pass on a crash; this does not),
#   - its standard output matches every regular expression in EXPECTED_FILE (one a line),
#   - it prints at most MAX_LINES lines (if given).
separate_arguments(args UNIX_COMMAND "${ARGS}")

function(run_once out_var)
  execute_process(COMMAND "${COMMAND}" ${args} RESULT_VARIABLE result OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT "${result}" STREQUAL "${EXPECTED_EXIT}")
    message(FATAL_ERROR "${COMMAND} ${ARGS}: exit status ${result}, expected ${EXPECTED_EXIT}\n"
                        "${out}${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

run_once(output)
message("${output}")
if(DEFINED EXPECTED_FILE)
  file(STRINGS "${EXPECTED_FILE}" expected_output)
endif()
foreach(expected IN LISTS expected_output)
  if(NOT output MATCHES "${expected}")
    message(FATAL_ERROR "${COMMAND} ${ARGS}: output lacks /${expected}/")
  endif()
endforeach()
if(DEFINED MAX_LINES)
  string(REGEX MATCHALL "\n" newlines "${output}")
  list(LENGTH newlines lines)
  if(lines GREATER MAX_LINES)
    message(FATAL_ERROR "${COMMAND} ${ARGS}: ${lines} lines, expected at most ${MAX_LINES}")
  endif()
endif()
