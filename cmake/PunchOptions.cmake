# Compiler warnings, sanitizers and the test helper shared by every target.
add_library(punch_warnings INTERFACE)
target_compile_options(punch_warnings INTERFACE -Wall -Wextra -Wpedantic
  $<$<BOOL:${PUNCH_WERROR}>:-Werror>
  # GCC 12 reports asio's coroutine frame operator delete as mismatched with its operator new
  # (a false positive fixed in GCC 13); the pairing is asio's own and correct.
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-mismatched-new-delete>)

if(PUNCH_SANITIZE)
  # -O1 -g1 after the build type's flags: ASan's advice (-O1 keeps reports exact and the
  # framework several times faster than -O0 under the tests and fuzzers), and line tables are
  # all a report needs. The tests' own code is compiled -O0 (tests/CMakeLists.txt).
  add_compile_options(-O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# punch_add_test(NAME <name> SOURCES <files...> [INTERNALS] [LIBS <targets...>] [LABELS <labels...>] [TIMEOUT <s>])
# One Boost.Test executable registered with CTest; LABELS pick the ring: unit, sim, real.
# INTERNALS: the test reaches into a module (punch::detail) and links punch_internals instead of
# libpunch, never both (two copies of asio and of the framework in one process).
function(punch_add_test)
  cmake_parse_arguments(T "INTERNALS" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES} $<TARGET_OBJECTS:punch_test_main>)
  if(T_INTERNALS)
    set(framework punch_internals)
  else()
    set(framework punch)
  endif()
  target_link_libraries(${T_NAME} PRIVATE punch_test_support ${framework} ${T_LIBS} punch_warnings)
  target_precompile_headers(${T_NAME} REUSE_FROM punch_test_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} --log_level=warning)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    SKIP_REGULAR_EXPRESSION "SKIPPED:")
endfunction()

if(PUNCH_FUZZ)
  # Everything in the fuzz build carries libFuzzer's coverage instrumentation and the sanitizers,
  # so the framework's modules are compiled once and shared by all fuzzers (fuzz/CMakeLists.txt).
  # -fno-sanitize=function: clang 14 cannot emit UBSan's function-type prologue for coroutines
  # ("Cannot represent a difference across sections"), and the broker and session are coroutines.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
    -fno-sanitize=function -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
