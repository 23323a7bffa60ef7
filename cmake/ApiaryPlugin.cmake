# apiary_add_plugin(NAME SOURCES...): an environment plugin, a shared library that
# `apiary ... --plugin path/libNAME.so` loads at run time (docs/custom-envs.md). Installed with
# Apiary's CMake package; find_package(Apiary) makes it available.
#
# The plugin links Apiary::envs, an interface target: headers and compile flags only. Its references
# to Apiary's functions resolve against the `apiary` program when it is loaded. Everything but the two
# symbols that APIARY_PLUGIN exports is hidden, so nothing of the plugin interposes on the program.
function(apiary_add_plugin name)
  if(NOT ARGN)
    message(FATAL_ERROR "apiary_add_plugin(${name}): give the plugin's source files")
  endif()
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE Apiary::envs)
  set_target_properties(${name} PROPERTIES
    CXX_VISIBILITY_PRESET hidden
    CUDA_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  # Environments are hot loops: optimise even when no build type was chosen.
  if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
    target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-O2>)
  endif()
endfunction()
