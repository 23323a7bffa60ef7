# What `cmake --install BUILD --prefix PREFIX` puts under PREFIX (docs/custom-envs.md):
#   bin/apiary                       the program, exporting the apiary::envs symbols to plugins
#   include/apiary/{core,draw,envs}/*.h   the public headers a plugin compiles against
#   share/apiary/zoo/                the zoo of trained policies (runner/zoo.h)
#   lib/cmake/Apiary/                the CMake package: find_package(Apiary), Apiary::envs,
#                                    apiary_add_plugin()
# Included at the end of the top-level CMakeLists.txt.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include(${CMAKE_CURRENT_LIST_DIR}/ApiaryHost.cmake)

# Plugins are checked against core/version.h's kVersion at load time; the package must say the same.
file(STRINGS ${PROJECT_SOURCE_DIR}/core/version.h apiary_version_line REGEX "kVersion = \"")
string(REGEX MATCH "\"([^\"]+)\"" apiary_version_match "${apiary_version_line}")
if(NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "core/version.h says Apiary ${CMAKE_MATCH_1}, CMakeLists.txt project() says ${PROJECT_VERSION}: make them agree")
endif()

apiary_export_env_symbols(apiary)
install(TARGETS apiary RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The zoo of trained policies (runner/zoo.h): next to the installed program as ../share/apiary/zoo, and
# in the build tree as build/zoo (a link to the sources'), so that `zoo:NAME` works from either.
if(EXISTS ${PROJECT_SOURCE_DIR}/zoo)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/zoo/ DESTINATION ${CMAKE_INSTALL_DATADIR}/apiary/zoo)
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/zoo ${PROJECT_BINARY_DIR}/zoo SYMBOLIC)
endif()

# The public headers: the env contracts, spaces, registry, both batched back ends, the plugin API
# (and the headers they include; nothing that needs Box2D or LibTorch).
set(APIARY_PUBLIC_HEADERS
  core/version.h core/fnv1a.h draw/canvas.h
  envs/hd.h envs/env.h envs/env_spec.h envs/spaces.h envs/params.h envs/rng.h envs/math.h envs/scene.h
  envs/vec_env.h envs/registry.h envs/row_probe.h envs/thread_pool.h envs/cpu_vec_env.h envs/thrust_vec_env.h
  envs/cpu_system.h envs/cuda_system.cuh envs/plugin.h envs/plugin_cuda.cuh)
set(APIARY_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/apiary)
set(APIARY_INSTALL_BINDIR ${CMAKE_INSTALL_BINDIR})
foreach(header ${APIARY_PUBLIC_HEADERS})
  get_filename_component(folder ${header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${header} DESTINATION ${APIARY_INSTALL_INCLUDEDIR}/${folder})
endforeach()

set(APIARY_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Apiary)
install(TARGETS apiary_plugin_api EXPORT ApiaryTargets)
install(EXPORT ApiaryTargets NAMESPACE Apiary:: DESTINATION ${APIARY_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/ApiaryConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ApiaryConfig.cmake
  INSTALL_DESTINATION ${APIARY_CMAKE_DIR}
  PATH_VARS APIARY_INSTALL_INCLUDEDIR APIARY_INSTALL_BINDIR)
# Plugins are refused at load time unless built against exactly this version; CMake accepts the same
# minor version so that the refusal, which names both versions, is what a user sees.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ApiaryConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/ApiaryConfig.cmake
  ${PROJECT_BINARY_DIR}/ApiaryConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/ApiaryPlugin.cmake
  DESTINATION ${APIARY_CMAKE_DIR})
