# obs_add_component(NAME DIR dir [USES components...] [IMPLEMENTATION libs...]
#                   [NO_COMPILED])
#
# Defines the two targets of one obs component, each with its own include
# tree (DIR/include), so linking one component makes no other includable:
#
#   obs::NAME           header-only (INTERFACE): every definition is inline,
#                       and DIR/include/obs/*-inl.hpp come in with the headers;
#   obs::NAME_compiled  the same headers over a static library built from
#                       DIR/src/NAME.cpp, which compiles the -inl definitions
#                       once; it defines OBS_COMPILED_LIB for its users.
#
# USES names other obs components (linked as their header-only or compiled
# form alike); IMPLEMENTATION names what the definitions need (fmt, Boost):
# public for the header-only target, whose users compile the definitions,
# private for the compiled one. NO_COMPILED: the component has no
# out-of-line definitions, so one INTERFACE target serves both modes.
function(obs_add_component name)
  cmake_parse_arguments(arg "NO_COMPILED" "DIR" "USES;IMPLEMENTATION" ${ARGN})
  set(include_dir ${arg_DIR}/include)
  set(install_dir ${CMAKE_INSTALL_INCLUDEDIR}/obs-${name})

  add_library(obs_${name} INTERFACE)
  add_library(obs::${name} ALIAS obs_${name})
  set_target_properties(obs_${name} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(obs_${name} INTERFACE
    $<BUILD_INTERFACE:${include_dir}> $<INSTALL_INTERFACE:${install_dir}>)
  list(TRANSFORM arg_USES PREPEND obs:: OUTPUT_VARIABLE uses)
  target_link_libraries(obs_${name} INTERFACE obs::obs ${uses} ${arg_IMPLEMENTATION})
  set(targets obs_${name})

  if(NOT arg_NO_COMPILED)
    add_library(obs_${name}_compiled STATIC ${arg_DIR}/src/${name}.cpp)
    add_library(obs::${name}_compiled ALIAS obs_${name}_compiled)
    set_target_properties(obs_${name}_compiled PROPERTIES EXPORT_NAME ${name}_compiled)
    target_include_directories(obs_${name}_compiled PUBLIC
      $<BUILD_INTERFACE:${include_dir}> $<INSTALL_INTERFACE:${install_dir}>)
    set(uses_compiled "")
    foreach(use IN LISTS arg_USES)
      if(TARGET obs_${use}_compiled)
        list(APPEND uses_compiled obs::${use}_compiled)
      else()
        list(APPEND uses_compiled obs::${use})
      endif()
    endforeach()
    target_link_libraries(obs_${name}_compiled PUBLIC obs::obs_compiled ${uses_compiled}
                          PRIVATE ${arg_IMPLEMENTATION})
    list(APPEND targets obs_${name}_compiled)
  endif()

  set_property(GLOBAL APPEND PROPERTY OBS_COMPONENTS ${name})
  set_property(GLOBAL PROPERTY OBS_COMPONENT_${name}_TARGETS ${targets})
  set_property(GLOBAL PROPERTY OBS_COMPONENT_${name}_INCLUDE_DIR ${include_dir})
  set_property(GLOBAL PROPERTY OBS_COMPONENT_${name}_INSTALL_DIR ${install_dir})
endfunction()
