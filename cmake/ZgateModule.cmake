# One CMake library per module (docs/architecture.md): zgate_module(<name> <header dir>
# [SOURCES <dir>] [PUBLIC <targets>...] [PRIVATE <targets>...]).
#
# A module sees only its own headers and those of the modules it links: its include root, in the
# build tree, holds one link to include/zgate/<header dir> and nothing else. Including a header
# of a module that is not linked (an upward include, or a dependency left out) is therefore a
# build error, not a convention. tests/layers/check.cmake states the order itself.
function(zgate_module name header_dir)
  cmake_parse_arguments(M "" "SOURCES" "PUBLIC;PRIVATE" ${ARGN})
  set(target zgate-${name})
  set(root ${PROJECT_BINARY_DIR}/module-includes/${name})
  get_filename_component(parent ${root}/zgate/${header_dir} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  if(EXISTS ${PROJECT_SOURCE_DIR}/include/zgate/${header_dir} AND NOT EXISTS ${root}/zgate/${header_dir})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/zgate/${header_dir} ${root}/zgate/${header_dir} SYMBOLIC)
  endif()
  set(sources "")
  if(M_SOURCES)
    file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${M_SOURCES}/*.cpp)
  endif()
  if(sources)
    add_library(${target} STATIC ${sources})
    target_include_directories(${target} PUBLIC ${root})
    target_link_libraries(${target} PUBLIC ${M_PUBLIC} PRIVATE ${M_PRIVATE})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${root})
    target_link_libraries(${target} INTERFACE ${M_PUBLIC})
  endif()
endfunction()
