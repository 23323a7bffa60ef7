// Apiary's version. Plugins compare against kApiVersion (see the custom-env guide).
#pragma once

namespace apiary {
inline constexpr const char* kVersion = "0.7.0";
}  // namespace apiary
