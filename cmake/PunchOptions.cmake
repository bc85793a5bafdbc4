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

# punch_unity_build(<target>): compile the target's files four to a unit (PUNCH_UNITY_BUILD):
# what they instantiate alike (asio's coroutines above all) is then compiled once. GCC takes a
# lambda or local type in a coroutine frame for one "with no linkage" when the frame's function
# came from an included file, which only a unit makes it: that warning is off for these targets.
function(punch_unity_build target)
  set_target_properties(${target} PROPERTIES UNITY_BUILD ${PUNCH_UNITY_BUILD} UNITY_BUILD_BATCH_SIZE 4)
  target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-subobject-linkage>)
endfunction()

# punch_add_test(NAME <name> SOURCES <files...> [GROUP <executable>] [INTERNALS] [LIBS <targets...>]
#                [LABELS <labels...>] [TIMEOUT <s>])
# One Boost.Test test registered with CTest; LABELS pick the ring: unit, sim, real.
# Without GROUP it is an executable of its own. With GROUP its sources join that executable (made
# by the group's first test) and the test runs its suite: each file of a group holds its tests in
# BOOST_AUTO_TEST_SUITE(<name>), so CTest runs `<executable> --run_test=<name>`, one process per
# test as before.
# INTERNALS: the test reaches into a module (punch::detail) and links punch_internals instead of
# libpunch, never both (two copies of asio and of the framework in one process); a group's tests
# all do or all do not.
# Build time on 2 cores: a test executable is built as one unit (CMake's UNITY_BUILD, a few files
# per unit), so that what its files instantiate alike (asio's coroutines, the simulated world,
# Boost.Test) is compiled once: four session tests took 18 s of CPU as one unit, 40 s apart.
function(punch_add_test)
  cmake_parse_arguments(T "INTERNALS" "NAME;TIMEOUT;GROUP" "SOURCES;LIBS;LABELS" ${ARGN})
  if(T_INTERNALS)
    set(framework punch_internals)
  else()
    set(framework punch)
  endif()
  if(T_GROUP)
    set(exe ${T_GROUP})
    set(args --run_test=${T_NAME})
  else()
    set(exe ${T_NAME})
    set(args)
  endif()
  if(NOT TARGET ${exe})
    add_executable(${exe} $<TARGET_OBJECTS:punch_test_main>)
    target_link_libraries(${exe} PRIVATE punch_test_support ${framework} punch_warnings)
    target_precompile_headers(${exe} REUSE_FROM punch_test_main)
    set_target_properties(${exe} PROPERTIES PUNCH_FRAMEWORK ${framework})
    punch_unity_build(${exe})
  else()
    get_target_property(made_with ${exe} PUNCH_FRAMEWORK)
    if(NOT made_with STREQUAL framework)
      message(FATAL_ERROR "punch_add_test(${T_NAME}): the tests of GROUP ${exe} must all link ${made_with}")
    endif()
  endif()
  target_sources(${exe} PRIVATE ${T_SOURCES})
  target_link_libraries(${exe} PRIVATE ${T_LIBS})
  add_test(NAME ${T_NAME} COMMAND ${exe} --log_level=warning ${args})
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
