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
install(DIRECTORY exporters/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(TARGETS obs EXPORT obsTargets)
install(EXPORT obsTargets NAMESPACE obs:: DESTINATION ${obs_install_cmakedir})

# obs_<component>Targets.cmake per exporter (not obsTargets-<component>:
# obsTargets.cmake globs that pattern for its per-configuration files).
set(OBS_COMPONENTS "")
foreach(target IN LISTS OBS_EXPORTER_TARGETS)
  string(REGEX REPLACE "^obs_" "" component ${target})
  list(APPEND OBS_COMPONENTS ${component})
  install(TARGETS ${target} EXPORT ${target}Targets)
  install(EXPORT ${target}Targets NAMESPACE obs:: DESTINATION ${obs_install_cmakedir})
endforeach()

configure_package_config_file(cmake/obsConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/obsConfig.cmake
  INSTALL_DESTINATION ${obs_install_cmakedir})
# Header-only: the package fits any architecture.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/obsConfigVersion.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/obsConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/obsConfigVersion.cmake
        DESTINATION ${obs_install_cmakedir})
