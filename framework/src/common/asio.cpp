// The one translation unit that compiles asio (BOOST_ASIO_SEPARATE_COMPILATION), with default
// visibility like its declarations (common/boost_visible.hpp): applications and plugins link
// these functions from libpunch.
#pragma GCC visibility push(default)
#include <boost/asio/impl/src.hpp>
#pragma GCC visibility pop
