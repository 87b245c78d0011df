# The layer order of the modules, checked on the sources themselves (cmake -P, run by ctest):
# a module may include only modules of a lower rank, siblings (same rank) never include each
# other, and the pure core (ranks below io) never includes Boost (Asio, Beast).
# The CMake targets enforce the same at build time (cmake/ZgateModule.cmake); this states it.
#   cmake -DROOT=<tree> -P tests/layers/check.cmake
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source tree> -P check.cmake")
endif()
# module directory (under src/ and include/zgate/) = rank
set(layers
  core=0 json=1 sse=2 h1=2 model=3 front/openai=4 dialect/zhipu=4 dialect/zaiweb=4 cache=4
  config=5 auth=6 route=6 policy=6 obs=7 report=8 alert=8 io=9 upstream=10 server=11 mock=11 cli=11)
set(first_io_rank 9)

set(dirs "")
foreach(entry ${layers})
  string(REPLACE "=" ";" kv ${entry})
  list(GET kv 0 dir)
  list(GET kv 1 rank)
  set(rank_${dir} ${rank})
  list(APPEND dirs ${dir})
endforeach()

# The module an include path "zgate/<dir>/..." or a file path "<dir>/..." belongs to.
function(module_of path out)
  set(found "")
  foreach(dir ${dirs})
    string(LENGTH "${dir}/" n)
    string(SUBSTRING "${path}" 0 ${n} head)
    if(head STREQUAL "${dir}/")
      set(found ${dir})
    endif()
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

set(problems "")
set(checked 0)
foreach(base src include/zgate)
  file(GLOB_RECURSE files RELATIVE ${ROOT}/${base} ${ROOT}/${base}/*.cpp ${ROOT}/${base}/*.hpp)
  foreach(f ${files})
    module_of("${f}" m)
    if(NOT m)
      continue()
    endif()
    math(EXPR checked "${checked} + 1")
    file(STRINGS ${ROOT}/${base}/${f} lines REGEX "^#include ")
    foreach(line ${lines})
      if(line MATCHES "^#include \"zgate/([^\"]+)\"")
        module_of("${CMAKE_MATCH_1}" to)
        if(to AND NOT to STREQUAL m)
          if(NOT rank_${to} LESS rank_${m})
            list(APPEND problems "${base}/${f} (${m}, rank ${rank_${m}}) includes zgate/${CMAKE_MATCH_1} (${to}, rank ${rank_${to}})")
          endif()
        endif()
      elseif(line MATCHES "^#include <boost/" AND rank_${m} LESS first_io_rank)
        list(APPEND problems "${base}/${f} (${m}, pure core) includes Boost: ${line}")
      endif()
    endforeach()
  endforeach()
endforeach()

if(problems)
  list(JOIN problems "\n  " text)
  message(FATAL_ERROR "layer order broken:\n  ${text}")
endif()
message(STATUS "layers: ${checked} files follow the module order")
