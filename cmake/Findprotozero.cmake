# Findprotozero: finds protozero, the header-only protocol buffers
# encoder/decoder (https://github.com/mapbox/protozero; Debian
# libprotozero-dev), which ships no CMake package of its own.
#
#   find_package(protozero [version] [REQUIRED])
#
# defines protozero_FOUND, protozero_VERSION and the INTERFACE target
# protozero::protozero. obs's build uses it for the protobuf component, and
# installs it beside obsConfig.cmake, which uses it the same way when
# `find_package(obs COMPONENTS protobuf)` asks for that component.
find_path(protozero_INCLUDE_DIR protozero/pbf_writer.hpp)
if(protozero_INCLUDE_DIR AND EXISTS ${protozero_INCLUDE_DIR}/protozero/version.hpp)
  file(STRINGS ${protozero_INCLUDE_DIR}/protozero/version.hpp protozero_version_line
       REGEX "^#define PROTOZERO_VERSION_STRING \"[^\"]*\"")
  string(REGEX REPLACE ".*\"([^\"]*)\".*" "\\1" protozero_VERSION "${protozero_version_line}")
  unset(protozero_version_line)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(protozero REQUIRED_VARS protozero_INCLUDE_DIR VERSION_VAR protozero_VERSION)
mark_as_advanced(protozero_INCLUDE_DIR)

if(protozero_FOUND AND NOT TARGET protozero::protozero)
  add_library(protozero::protozero INTERFACE IMPORTED)
  set_target_properties(protozero::protozero PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${protozero_INCLUDE_DIR})
endif()
