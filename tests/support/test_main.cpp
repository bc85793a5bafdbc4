// The one Boost.Test main shared by every test executable.
#define BOOST_TEST_MODULE punch
#include <boost/test/unit_test.hpp>
