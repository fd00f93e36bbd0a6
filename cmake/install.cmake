# Installs the headers and a package config, so `find_package(obs CONFIG)`
# gives the same obs:: targets as add_subdirectory.
include(CMakePackageConfigHelpers)

install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY exporters/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(TARGETS obs ${OBS_EXPORTER_TARGETS} EXPORT obsTargets)
install(EXPORT obsTargets NAMESPACE obs:: DESTINATION ${CMAKE_INSTALL_DATADIR}/cmake/obs)

configure_package_config_file(cmake/obsConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/obsConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_DATADIR}/cmake/obs)
# Header-only: the package fits any architecture.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/obsConfigVersion.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/obsConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/obsConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_DATADIR}/cmake/obs)
