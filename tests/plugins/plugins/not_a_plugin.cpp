// Refused: a shared library with neither of the plugin symbols.
extern "C" __attribute__((visibility("default"))) int not_a_plugin_answer() { return 42; }
