# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Helpers of the top-level CMakeLists.txt: globs that tolerate empty directories,
# libraries that may have no sources yet, and tests with a valgrind twin.

# softhca_glob(<var> <pattern relative to the source root>...)
# Sorted, so the build does not depend on directory order; CONFIGURE_DEPENDS, so
# a file added later re-runs the configure step at the next build.
function(softhca_glob var)
  set(patterns)
  foreach(p IN LISTS ARGN)
    list(APPEND patterns ${PROJECT_SOURCE_DIR}/${p})
  endforeach()
  file(GLOB found LIST_DIRECTORIES false CONFIGURE_DEPENDS ${patterns})
  list(SORT found)
  set(${var} ${found} PARENT_SCOPE)
endfunction()

# softhca_add_library(<name> SOURCES ... [INCLUDES ...] [LINKS ...] [DEFINES ...])
# A static library, or an INTERFACE library carrying only the usage requirements
# while the directory has no sources yet, so that dependents configure either way.
function(softhca_add_library name)
  cmake_parse_arguments(arg "" "" "SOURCES;INCLUDES;LINKS;DEFINES" ${ARGN})
  if(arg_SOURCES)
    add_library(${name} STATIC ${arg_SOURCES})
    set(scope PUBLIC)
  else()
    add_library(${name} INTERFACE)
    set(scope INTERFACE)
  endif()
  if(arg_INCLUDES)
    target_include_directories(${name} ${scope} ${arg_INCLUDES})
  endif()
  if(arg_LINKS)
    target_link_libraries(${name} ${scope} ${arg_LINKS})
  endif()
  if(arg_DEFINES)
    target_compile_definitions(${name} ${scope} ${arg_DEFINES})
  endif()
endfunction()

if(SOFTHCA_VALGRIND_TESTS)
  find_program(SOFTHCA_VALGRIND_EXECUTABLE valgrind)
  if(NOT SOFTHCA_VALGRIND_EXECUTABLE)
    message(FATAL_ERROR "valgrind not found: run ci/install-deps.sh, or configure "
                        "with -DSOFTHCA_VALGRIND_TESTS=OFF to build without the "
                        "valgrind tests")
  endif()
endif()

# A leak of any kind but "still reachable" is an error, and any error fails the
# test. CK_FORK=no keeps Check's test cases in the process valgrind watches;
# SOFTHCA_VALGRIND=1 lets slow tests shrink their seed sweeps.
set(SOFTHCA_VALGRIND_ARGS
    --error-exitcode=99
    --leak-check=full
    --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible
    --track-origins=yes
    --num-callers=30)

# softhca_add_test(<kind> <source> <library>)
# Builds build/bin/<kind>/<name> from one source file, registers the test
# <kind>/<name> with label <kind>, and its twin valgrind:<kind>/<name> with label
# valgrind. Target names carry the kind because tests/unit and tests/sim may
# hold files of the same name.
function(softhca_add_test kind src lib)
  get_filename_component(name ${src} NAME_WE)
  set(target ${kind}_${name})
  add_executable(${target} ${src})
  target_link_libraries(${target} PRIVATE ${lib})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${name}
    RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin/${kind})

  add_test(NAME ${kind}/${name} COMMAND ${target}
           WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(${kind}/${name} PROPERTIES
    LABELS ${kind}
    TIMEOUT ${SOFTHCA_TEST_TIMEOUT})

  if(SOFTHCA_VALGRIND_TESTS)
    add_test(NAME valgrind:${kind}/${name}
             COMMAND ${SOFTHCA_VALGRIND_EXECUTABLE} ${SOFTHCA_VALGRIND_ARGS}
                     $<TARGET_FILE:${target}>
             WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
    # COST: start the slow ones first so that -jN keeps every slot busy.
    set_tests_properties(valgrind:${kind}/${name} PROPERTIES
      LABELS valgrind
      ENVIRONMENT "CK_FORK=no;SOFTHCA_VALGRIND=1"
      TIMEOUT ${SOFTHCA_VALGRIND_TIMEOUT}
      COST 100)
  endif()
endfunction()
