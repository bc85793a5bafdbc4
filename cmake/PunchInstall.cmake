# cmake --install: the headers, libpunch (versioned SONAME), the built-in transports, the apps,
# the docs and examples; a CMake package (find_package(punch CONFIG): punch::punch, punch::udp,
# punch::sim, punch::builtin) and punch.pc for pkg-config. Nothing installed names the build
# folder.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS punch punch_udp punch_sim punch_builtin EXPORT punchTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/include/punch
  ${PROJECT_SOURCE_DIR}/plugins/include/punch
  ${PROJECT_SOURCE_DIR}/plugins/udp/include/punch
  ${PROJECT_SOURCE_DIR}/plugins/sim/include/punch
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# punch::udp is the target's name outside (punch_udp inside, as the tree's own code links it).
set_target_properties(punch_udp PROPERTIES EXPORT_NAME udp)
set_target_properties(punch_sim PROPERTIES EXPORT_NAME sim)
set_target_properties(punch_builtin PROPERTIES EXPORT_NAME builtin)
install(EXPORT punchTargets NAMESPACE punch:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/punch)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/punchConfig.cmake.in
  ${PROJECT_BINARY_DIR}/punchConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/punch)
# 0.x: a minor release may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/punchConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/punchConfig.cmake ${PROJECT_BINARY_DIR}/punchConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/punch)
configure_file(${PROJECT_SOURCE_DIR}/cmake/punch.pc.in ${PROJECT_BINARY_DIR}/punch.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/punch.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The apps find libpunch next to them ($ORIGIN/../lib), wherever the prefix is.
foreach(app punch-broker punch-relay punch-peer punch-demo)
  set_target_properties(${app} PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
endforeach()
install(TARGETS punch-broker punch-relay punch-peer punch-demo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/examples/chat.cpp ${PROJECT_SOURCE_DIR}/examples/chat_peer.hpp
  ${PROJECT_SOURCE_DIR}/examples/chat_sim.cpp ${PROJECT_SOURCE_DIR}/examples/CMakeLists.txt
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
