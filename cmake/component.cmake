# obs_add_component(NAME DIR dir [USES components...] [IMPLEMENTATION libs...]
#                   [NO_COMPILED])
#
# Defines the targets of one obs component, each with its own include tree
# (DIR/include), so linking one component makes no other includable:
#
#   obs::NAME              compiled (the default): the headers over a static
#                          library built from DIR/src/NAME.cpp, which compiles
#                          the -inl definitions once; with obs::obs it
#                          defines OBS_COMPILED_LIB for its users;
#   obs::NAME_header_only  header-only (INTERFACE): every definition is
#                          inline, and DIR/include/obs/*-inl.hpp come in with
#                          the headers;
#   obs::NAME_compiled     the name obs::NAME had when header-only was the
#                          default, kept: it links obs::NAME.
#
# USES names other obs components, linked in the same form; IMPLEMENTATION
# names what the definitions need (fmt, Boost, obs::exposition): public for
# the header-only target, whose users compile the definitions, private for
# the compiled one. An obs:: target in either list is linked as its
# _header_only form by the header-only target. NO_COMPILED: the component has
# no out-of-line definitions, so both its targets are INTERFACE, and differ
# only in which form of the core (and of USES) they bring.
function(obs_add_component name)
  cmake_parse_arguments(arg "NO_COMPILED" "DIR" "USES;IMPLEMENTATION" ${ARGN})
  set(include_dir ${arg_DIR}/include)
  set(install_dir ${CMAKE_INSTALL_INCLUDEDIR}/obs-${name})

  list(TRANSFORM arg_USES PREPEND obs:: OUTPUT_VARIABLE uses)
  set(uses_header_only "")
  foreach(lib IN LISTS uses)
    list(APPEND uses_header_only ${lib}_header_only)
  endforeach()
  set(implementation_header_only "")
  foreach(lib IN LISTS arg_IMPLEMENTATION)
    if(lib MATCHES "^obs::" AND TARGET ${lib}_header_only)
      set(lib ${lib}_header_only)
    endif()
    list(APPEND implementation_header_only ${lib})
  endforeach()

  add_library(obs_${name}_header_only INTERFACE)
  add_library(obs::${name}_header_only ALIAS obs_${name}_header_only)
  set_target_properties(obs_${name}_header_only PROPERTIES EXPORT_NAME ${name}_header_only)
  target_include_directories(obs_${name}_header_only INTERFACE
    $<BUILD_INTERFACE:${include_dir}> $<INSTALL_INTERFACE:${install_dir}>)
  target_link_libraries(obs_${name}_header_only INTERFACE obs::obs_header_only ${uses_header_only}
                        ${implementation_header_only})

  if(arg_NO_COMPILED)
    add_library(obs_${name} INTERFACE)
    target_include_directories(obs_${name} INTERFACE
      $<BUILD_INTERFACE:${include_dir}> $<INSTALL_INTERFACE:${install_dir}>)
    target_link_libraries(obs_${name} INTERFACE obs::obs ${uses} ${arg_IMPLEMENTATION})
    set(targets obs_${name} obs_${name}_header_only)
  else()
    add_library(obs_${name} STATIC ${arg_DIR}/src/${name}.cpp)
    target_include_directories(obs_${name} PUBLIC
      $<BUILD_INTERFACE:${include_dir}> $<INSTALL_INTERFACE:${install_dir}>)
    target_link_libraries(obs_${name} PUBLIC obs::obs ${uses} PRIVATE ${arg_IMPLEMENTATION})
    add_library(obs_${name}_compiled INTERFACE)
    add_library(obs::${name}_compiled ALIAS obs_${name}_compiled)
    set_target_properties(obs_${name}_compiled PROPERTIES EXPORT_NAME ${name}_compiled)
    target_link_libraries(obs_${name}_compiled INTERFACE obs_${name})
    set(targets obs_${name} obs_${name}_header_only obs_${name}_compiled)
  endif()
  add_library(obs::${name} ALIAS obs_${name})
  set_target_properties(obs_${name} PROPERTIES EXPORT_NAME ${name})

  set_property(GLOBAL APPEND PROPERTY OBS_COMPONENTS ${name})
  set_property(GLOBAL PROPERTY OBS_COMPONENT_${name}_TARGETS ${targets})
  set_property(GLOBAL PROPERTY OBS_COMPONENT_${name}_INCLUDE_DIR ${include_dir})
  set_property(GLOBAL PROPERTY OBS_COMPONENT_${name}_INSTALL_DIR ${install_dir})
endfunction()
