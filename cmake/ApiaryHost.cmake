# In-tree helpers for programs that load environment plugins (envs/plugin_loader.h).

# apiary_export_env_symbols(TARGET): the executable TARGET, which links the static library apiary_envs,
# exports the apiary::envs symbols to the plugins it loads (cmake/apiary_envs.dynlist), so that a
# plugin's calls into Apiary resolve against the program's own copy: one registry, one set of back
# ends. The out-of-line functions the installed headers declare live in spaces.cpp, params.cpp,
# vec_env.cpp, registry.cpp and thread_pool.cpp, which every program that makes envs links anyway, so
# no --whole-archive is needed (tests/plugins load real plugins into `apiary` and into test_plugins).
function(apiary_export_env_symbols target)
  target_link_options(${target} PRIVATE "LINKER:--dynamic-list=${PROJECT_SOURCE_DIR}/cmake/apiary_envs.dynlist")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${PROJECT_SOURCE_DIR}/cmake/apiary_envs.dynlist")
endfunction()
