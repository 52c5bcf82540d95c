# Warnings and sanitizers shared by every squall target.
add_library(squall_options INTERFACE)
# The libraries are position-independent (they may go into a shared object), but nothing relies on
# interposing their own functions: -fno-semantic-interposition lets GCC inline and call directly
# within a file, as it would in an executable.
target_compile_options(squall_options INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter
                                                -fno-semantic-interposition)
if(SQUALL_SANITIZE)
  list(JOIN SQUALL_SANITIZE "," _squall_sanitizers)
  target_compile_options(squall_options INTERFACE -fsanitize=${_squall_sanitizers} -fno-omit-frame-pointer
                                                  -fno-sanitize-recover=undefined)
  target_link_options(squall_options INTERFACE -fsanitize=${_squall_sanitizers})
endif()
# squall_layer(NAME SOURCES... DEPENDS targets...): one library per layer, exported as squall::NAME.
function(squall_layer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_library(squall_${name} STATIC ${ARG_SOURCES})
  add_library(squall::${name} ALIAS squall_${name})
  set_target_properties(squall_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME squall_${name})
  target_include_directories(squall_${name}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(squall_${name} PUBLIC ${ARG_DEPENDS} PRIVATE $<BUILD_INTERFACE:squall_options>)
  target_compile_features(squall_${name} PUBLIC cxx_std_20)
  set_property(GLOBAL APPEND PROPERTY SQUALL_LAYERS squall_${name})
endfunction()

# squall_test(NAME SOURCE): one GoogleTest program per module, each test registered with CTest.
function(squall_test name source)
  add_executable(${name} ${source})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE squall::squall squall::testing GTest::gtest GTest::gtest_main
                                        squall_options)
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES TIMEOUT 120)
endfunction()

# squall_program(NAME SOURCES...): an example or benchmark program built in its source folder.
function(squall_program name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE squall::squall squall_options)
endfunction()
