# Installs the headers and a package config, so `find_package(obs CONFIG)`
# gives the same obs:: targets as add_subdirectory.
#
# Each component has its own exported targets file, and obsConfig.cmake loads
# one, and finds its dependencies, only when it is asked for: the core's
# obsTargets.cmake names nothing but Threads, so `find_package(obs)` alone
# needs no third-party package.
include(CMakePackageConfigHelpers)

set(obs_install_cmakedir ${CMAKE_INSTALL_DATADIR}/cmake/obs)

install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS obs obs_header_only obs_compiled EXPORT obsTargets)

# Each component's headers go to their own directory, as in the source tree,
# so that linking one component makes no other includable. process_metrics
# needs nothing beyond the core, so it is exported with it.
get_property(obs_all_components GLOBAL PROPERTY OBS_COMPONENTS)
set(OBS_COMPONENTS "")
foreach(component IN LISTS obs_all_components)
  get_property(targets GLOBAL PROPERTY OBS_COMPONENT_${component}_TARGETS)
  get_property(include_dir GLOBAL PROPERTY OBS_COMPONENT_${component}_INCLUDE_DIR)
  get_property(install_dir GLOBAL PROPERTY OBS_COMPONENT_${component}_INSTALL_DIR)
  install(DIRECTORY ${include_dir}/ DESTINATION ${install_dir})
  if(component STREQUAL "process_metrics")
    install(TARGETS ${targets} EXPORT obsTargets)
    continue()
  endif()
  # obs_<component>Targets.cmake (not obsTargets-<component>: obsTargets.cmake
  # globs that pattern for its per-configuration files).
  install(TARGETS ${targets} EXPORT obs_${component}Targets)
  install(EXPORT obs_${component}Targets NAMESPACE obs:: DESTINATION ${obs_install_cmakedir})
  if(NOT component MATCHES "^(exposition|protobuf_wire)$")
    list(APPEND OBS_COMPONENTS ${component})
  endif()
endforeach()
install(EXPORT obsTargets NAMESPACE obs:: DESTINATION ${obs_install_cmakedir})

configure_package_config_file(cmake/obsConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/obsConfig.cmake
  INSTALL_DESTINATION ${obs_install_cmakedir})
# Not ARCH_INDEPENDENT: obs::obs and the exporters are static libraries.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/obsConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
# Findprotozero.cmake: obsConfig.cmake finds the protobuf component's
# dependency with it, as obs's own build does (protozero has no package).
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/obsConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/obsConfigVersion.cmake
              ${CMAKE_CURRENT_SOURCE_DIR}/cmake/Findprotozero.cmake
        DESTINATION ${obs_install_cmakedir})
