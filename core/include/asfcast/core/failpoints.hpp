// Fault injection for tests: named points in the product where an exception can be made to
// happen, to show that a failure stays contained (one push target, one output, the mux thread).
// Inactive unless the environment variable ASFCAST_FAILPOINTS names points, e.g.
//   ASFCAST_FAILPOINTS="mux.packet=300,push.target.0=50"
// which throws std::runtime_error("failpoint mux.packet") at the 300th pass through that point,
// once. When the variable is unset a point costs one relaxed atomic load.
#pragma once

#include <string_view>

namespace asfcast {

// Throws std::runtime_error when the point `name` is armed and its count is reached.
void failpoint(std::string_view name);
// The same for a point with an index ("push.target" and 2 make "push.target.2").
void failpoint(std::string_view name, int index);
// Replaces the armed points with `spec` (the ASFCAST_FAILPOINTS syntax; empty disarms all).
// For unit tests, which cannot set the environment before the process starts.
void set_failpoints(std::string_view spec);

}  // namespace asfcast
