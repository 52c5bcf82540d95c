# cmake --install: headers, static libraries, a CMake package (find_package(squall)) and squall.pc.
include(CMakePackageConfigHelpers)
get_property(_squall_layers GLOBAL PROPERTY SQUALL_LAYERS)

install(TARGETS ${_squall_layers} squall EXPORT squallTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/squall DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT squallTargets NAMESPACE squall:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/squall)
configure_package_config_file(cmake/squallConfig.cmake.in ${PROJECT_BINARY_DIR}/squallConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/squall)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/squallConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/squallConfig.cmake ${PROJECT_BINARY_DIR}/squallConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/squall)

# Static libraries listed from the highest layer down, so a plain linker resolves them in one pass.
# squall_testing is for GoogleTest suites; it is installed but left out of the default link line.
set(_squall_libs "")
foreach(_layer IN LISTS _squall_layers)
  if(NOT _layer STREQUAL "squall_testing")
    get_target_property(_out ${_layer} OUTPUT_NAME)
    list(PREPEND _squall_libs "-l${_out}")
  endif()
endforeach()
list(JOIN _squall_libs " " SQUALL_PC_LIBS)
# Relocatable: the prefix is found from where the .pc file is, whatever --prefix install used.
file(RELATIVE_PATH SQUALL_PC_TO_PREFIX "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
configure_file(cmake/squall.pc.in ${PROJECT_BINARY_DIR}/squall.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/squall.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
