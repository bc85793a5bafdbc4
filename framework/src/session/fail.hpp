// How the peer session reports an expected failure: a system_error with the project's errc
// and a message that names what failed (private header).
#pragma once

#include "punch/error.hpp"

#include <string>

namespace punch::detail {

[[noreturn]] inline void fail(errc e, const std::string& what) { throw system_error(make_error_code(e), what); }

}  // namespace punch::detail
