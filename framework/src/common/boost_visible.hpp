// The Boost headers libpunch uses, with default visibility (private; every module's precompiled
// header, so it is the first thing each framework translation unit sees).
//
// libpunch is built with -fvisibility=hidden: only what PUNCH_EXPORT marks is exported. asio is
// a header library shared across that boundary, though: the applications, the plugins and
// libpunch must agree on one copy of its statics (the thread's call stack, the service ids)
// and of its type_info (services are looked up by type). Declared inside this push, asio's
// templates and the functions its separate compilation (common/asio.cpp) defines keep default
// visibility, as they have in every other binary.
#pragma once

#pragma GCC visibility push(default)
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/crc.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#pragma GCC visibility pop
