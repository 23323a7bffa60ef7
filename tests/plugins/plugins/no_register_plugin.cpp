// Refused: exports the version symbol but no apiary_plugin_register.
#include "core/version.h"

extern "C" __attribute__((visibility("default"))) const char* apiary_plugin_abi_version() { return apiary::kVersion; }
