// Refused: built against "another Apiary" (its version symbol says 0.0.0-test). With
// OTHER_VERSION_UNDEFINED it also needs a symbol this Apiary lacks, as a plugin built against a
// different version often does; the refusal must still name both versions.
#include "envs/plugin.h"

#ifdef OTHER_VERSION_UNDEFINED
extern "C" int apiary_function_of_another_version(int);
#endif

extern "C" __attribute__((visibility("default"))) const char* apiary_plugin_abi_version() { return "0.0.0-test"; }

extern "C" __attribute__((visibility("default"))) void apiary_plugin_register(apiary::envs::PluginRegistrar&) {
#ifdef OTHER_VERSION_UNDEFINED
  (void)apiary_function_of_another_version(1);
#endif
}
