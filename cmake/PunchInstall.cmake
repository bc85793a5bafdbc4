# cmake --install: the headers, libpunch (versioned SONAME), the built-in transports, the apps,
# the servers' systemd units, the docs and examples; a CMake package (find_package(punch CONFIG):
# punch::punch, punch::udp, punch::sim, punch::builtin) and punch.pc for pkg-config. Nothing
# installed names the build folder (tests/install/consumer_test.sh checks it).
#
# Each file belongs to one component, which is one Debian package (cmake/PunchPackage.cmake):
#   runtime  libpunch.so.0                                        -> libpunch0
#   dev      headers, libpunch.so, the static transports, CMake
#            package, punch.pc, docs, examples                    -> libpunch-dev
#   broker   punch-broker, its unit and /etc/default file         -> punch-broker
#   relay    punch-relay, its unit and /etc/default file          -> punch-relay
#   tools    punch-peer, punch-demo                               -> punch-tools
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set(punch_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/punch)

install(TARGETS punch EXPORT punchTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The built-in transports are static archives (linked into each app), so they are development
# files, not part of the runtime library's package.
install(TARGETS punch_udp punch_sim punch_builtin EXPORT punchTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# A stripped install (cpack, `cmake --install --strip`) strips the archives' debug information
# too, as Debian's -dev packages do: it is most of their size and names the build folder.
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    foreach(archive $<TARGET_FILE_NAME:punch_udp> $<TARGET_FILE_NAME:punch_sim> $<TARGET_FILE_NAME:punch_builtin>)
      execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug --enable-deterministic-archives
        \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/\${archive}\" COMMAND_ERROR_IS_FATAL ANY)
    endforeach()
  endif()" COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/include/punch
  ${PROJECT_SOURCE_DIR}/plugins/include/punch
  ${PROJECT_SOURCE_DIR}/plugins/udp/include/punch
  ${PROJECT_SOURCE_DIR}/plugins/sim/include/punch
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
# punch::udp is the target's name outside (punch_udp inside, as the tree's own code links it).
set_target_properties(punch_udp PROPERTIES EXPORT_NAME udp)
set_target_properties(punch_sim PROPERTIES EXPORT_NAME sim)
set_target_properties(punch_builtin PROPERTIES EXPORT_NAME builtin)
install(EXPORT punchTargets NAMESPACE punch:: DESTINATION ${punch_cmake_dir} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/punchConfig.cmake.in
  ${PROJECT_BINARY_DIR}/punchConfig.cmake INSTALL_DESTINATION ${punch_cmake_dir})
# 0.x: a minor release may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/punchConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/punchConfig.cmake ${PROJECT_BINARY_DIR}/punchConfigVersion.cmake
  DESTINATION ${punch_cmake_dir} COMPONENT dev)
# punch.pc finds the prefix from where it lies (${pcfiledir}), so that one file is right under
# any --prefix and in the packages, whatever CMAKE_INSTALL_PREFIX said at configure time.
file(RELATIVE_PATH punch_pc_to_prefix /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${PROJECT_SOURCE_DIR}/cmake/punch.pc.in ${PROJECT_BINARY_DIR}/punch.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/punch.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# The apps find libpunch beside them ($ORIGIN/../lib), wherever the prefix is.
file(RELATIVE_PATH punch_bin_to_lib /prefix/${CMAKE_INSTALL_BINDIR} /prefix/${CMAKE_INSTALL_LIBDIR})
foreach(app broker relay peer demo)
  set_target_properties(punch-${app} PROPERTIES INSTALL_RPATH "$ORIGIN/${punch_bin_to_lib}")
endforeach()
install(TARGETS punch-broker RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT broker)
install(TARGETS punch-relay RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT relay)
install(TARGETS punch-peer punch-demo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
include(PunchUnits)
punch_install_server_unit(broker "punch rendezvous broker (UDP hole punching)" PUNCH_BROKER_OPTS)
punch_install_server_unit(relay "punch relay, for the peers that cannot punch" PUNCH_RELAY_OPTS)

# The docs, and the examples as a project of their own (examples/CMakeLists.txt builds them
# against this installation with find_package(punch)).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/examples/chat.cpp ${PROJECT_SOURCE_DIR}/examples/chat_peer.hpp
  ${PROJECT_SOURCE_DIR}/examples/chat_sim.cpp ${PROJECT_SOURCE_DIR}/examples/http_peer.hpp
  ${PROJECT_SOURCE_DIR}/examples/http_scenario.hpp ${PROJECT_SOURCE_DIR}/examples/http_sim.cpp
  ${PROJECT_SOURCE_DIR}/examples/http_udp.cpp ${PROJECT_SOURCE_DIR}/examples/CMakeLists.txt
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT dev)
