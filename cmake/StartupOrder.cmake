# Start-up time of the programs that link LibTorch (`apiary`, the test executables).
#
# Debian's LibTorch pulls in 313 shared libraries (OpenCV, and through it GDAL, Xerces, GEOS, PROJ,
# Poppler, ...). The dynamic linker resolves each symbol reference by walking the global scope in
# load order, which is breadth first from the program: a library deep in that order that refers to
# its own symbols (most of GDAL's and Xerces's references are to themselves) walks past 150-300
# libraries for each one. That walk was half of `apiary --version`'s 1.3 s here, and every test
# that starts the program or a LibTorch test executable paid it.
#
# The remedy is the order alone: the libraries that definitions are found in most often are named
# first among the program's own dependencies (DT_NEEDED), so that the walk for them is short. Which
# ones they are is measured, not listed: at configure time a probe program linked only to LibTorch
# runs once with LD_DEBUG=bindings, and the libraries are ranked by how many bindings resolved to
# them. Only libraries in the toolchain's own library directories are named (the program finds them
# without a run path), and never the C and C++ runtimes, which the toolchain links itself.
#
# apiary_startup_order(<out_var>) sets out_var to the link options (empty when the measure cannot be
# taken: not glibc, no probe, APIARY_STARTUP_ORDER=OFF).
option(APIARY_STARTUP_ORDER "Name LibTorch's most-bound dependencies first in programs (faster start-up)" ON)

function(apiary_startup_order out_var)
  set(${out_var} "" PARENT_SCOPE)
  if(NOT APIARY_STARTUP_ORDER OR NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
    return()
  endif()
  set(dir "${CMAKE_BINARY_DIR}/CMakeFiles/startup_order")
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${dir}/probe.cpp" "int main() { return 0; }\n")
  try_compile(probe_built "${dir}/build" SOURCES "${dir}/probe.cpp"
              LINK_OPTIONS -Wl,--no-as-needed
              LINK_LIBRARIES ${TORCH_LIBRARIES}
              COPY_FILE "${dir}/probe"
              OUTPUT_VARIABLE probe_log)
  if(NOT probe_built)
    message(STATUS "Apiary: start-up order not measured (the LibTorch probe did not link)")
    return()
  endif()
  file(REMOVE_RECURSE "${dir}/bindings")
  file(MAKE_DIRECTORY "${dir}/bindings")
  # LD_DEBUG_OUTPUT writes <file>.<pid>; awk counts the bindings per defining library, most first.
  execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_DEBUG=bindings LD_DEBUG_OUTPUT=${dir}/bindings/log
                          "${dir}/probe"
                  RESULT_VARIABLE probe_status OUTPUT_QUIET ERROR_QUIET)
  file(GLOB logs "${dir}/bindings/log.*")
  if(NOT probe_status EQUAL 0 OR NOT logs)
    message(STATUS "Apiary: start-up order not measured (no LD_DEBUG output from the probe)")
    return()
  endif()
  execute_process(
    COMMAND awk "/binding file/ { i = index($0, \" to \"); if (i) { rest = substr($0, i + 4); sub(/ \\[.*/, \"\", rest); n[rest]++ } } END { for (l in n) print n[l], l }" ${logs}
    COMMAND sort -rn
    OUTPUT_VARIABLE ranked RESULT_VARIABLE awk_status)
  file(REMOVE_RECURSE "${dir}/bindings")
  if(NOT awk_status EQUAL 0)
    return()
  endif()
  string(REPLACE "\n" ";" ranked "${ranked}")
  set(system_dirs ${CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES} /lib /usr/lib)
  set(named "")
  set(count 0)
  foreach(line IN LISTS ranked)
    if(count GREATER_EQUAL 48)
      break()
    endif()
    if(NOT line MATCHES "^([0-9]+) (/.+)$")
      continue()
    endif()
    set(path "${CMAKE_MATCH_2}")
    get_filename_component(name "${path}" NAME)
    if(name MATCHES "^(libc|libm|libstdc\\+\\+|libgcc_s|ld-linux.*|libpthread|libdl)\\.so" OR NOT EXISTS "${path}")
      continue()
    endif()
    get_filename_component(path_dir "${path}" DIRECTORY)
    get_filename_component(path_dir "${path_dir}" REALPATH)
    set(in_system OFF)
    foreach(d IN LISTS system_dirs)
      get_filename_component(d "${d}" REALPATH)
      if(path_dir STREQUAL d)
        set(in_system ON)
      endif()
    endforeach()
    if(in_system)
      list(APPEND named "${path}")
      math(EXPR count "${count} + 1")
    endif()
  endforeach()
  if(named)
    message(STATUS "Apiary: start-up order: ${count} of LibTorch's most-bound libraries named first")
    set(${out_var} "-Wl,--push-state,--no-as-needed" ${named} "-Wl,--pop-state" PARENT_SCOPE)
  endif()
endfunction()
