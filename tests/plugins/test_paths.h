// Paths of the test plugins (tests/plugins/CMakeLists.txt passes them as PLUGIN_<TARGET>).
#pragma once

#include <filesystem>
#include <string>

namespace plugin_test {

inline std::string canonical(const char* path) { return std::filesystem::canonical(path).string(); }

}  // namespace plugin_test
