// Compiled with the tests' precompiled header (tests/CMakeLists.txt), so that punch_test_main
// builds it for every test to reuse: test_main.cpp itself cannot use it (it must define
// BOOST_TEST_MODULE before Boost.Test is included).
