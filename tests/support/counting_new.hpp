// A counting global operator new for allocation tests. Link counting_new.cpp into one test
// binary only: it replaces the program's operator new/delete, counting while counting() is on.
#pragma once

#include <cstddef>

namespace punch::test {

// Allocations counted since the last start_counting(), and whether counting is on.
void start_counting() noexcept;
std::size_t stop_counting() noexcept;

}  // namespace punch::test
