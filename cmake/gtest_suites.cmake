# Writes the ctest file of a GoogleTest executable registered by suite (tests/CMakeLists.txt,
# apiary_add_test(... BY_SUITE)): one test per suite, run by tests/run_suite.sh. Called after each build
# of the executable, as gtest_discover_tests is:
#   cmake -D EXE=... -D OUT=... -D RUNNER=... -D PROCESSORS=... -D TIMEOUT=... -P gtest_suites.cmake
foreach(var EXE OUT RUNNER PROCESSORS TIMEOUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "gtest_suites.cmake: -D ${var}=... is missing")
  endif()
endforeach()
execute_process(COMMAND "${EXE}" --gtest_list_tests OUTPUT_VARIABLE listing ERROR_VARIABLE errors
                RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} --gtest_list_tests failed (${rc}):\n${listing}${errors}")
endif()
string(REPLACE "\n" ";" lines "${listing}")
set(content "")
set(count 0)
foreach(line IN LISTS lines)
  # A suite's line is "Suite." or "Prefix/Suite.  # TypeParam = ..."; its tests are indented.
  if(line MATCHES "^([A-Za-z_][A-Za-z0-9_/]*)\\.( .*)?$")
    set(name "${CMAKE_MATCH_1}.*")
    string(APPEND content
      "add_test([==[${name}]==] [==[${RUNNER}]==] [==[${EXE}]==] [==[${name}]==])\n"
      "set_tests_properties([==[${name}]==] PROPERTIES TIMEOUT ${TIMEOUT} PROCESSORS ${PROCESSORS}"
      " ENVIRONMENT OPENBLAS_NUM_THREADS=1"
      " SKIP_REGULAR_EXPRESSION [==[run_suite: every test of this suite skipped]==])\n")
    math(EXPR count "${count} + 1")
  endif()
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${EXE} --gtest_list_tests named no test suite:\n${listing}")
endif()
file(WRITE "${OUT}" "${content}")
