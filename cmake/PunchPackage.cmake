# CPack: Debian packages from the install components of cmake/PunchInstall.cmake, one package
# each: `cpack --config build/CPackConfig.cmake` (or `cd build && cpack`) writes
#   libpunch0     the shared library
#   libpunch-dev  headers, the static transports, the CMake package, punch.pc, docs, examples
#   punch-broker  punch-broker, punch-broker.service, /etc/default/punch-broker (a conffile)
#   punch-relay   punch-relay, punch-relay.service, /etc/default/punch-relay (a conffile)
#   punch-tools   punch-peer and punch-demo
# The broker and the relay are packaged apart because they are deployed apart: a relay needs
# its own address and bandwidth, and many deployments run brokers only.
# Dependencies on other packages come from dpkg-shlibdeps (libc, libstdc++, libsodium, zlib, Boost's
# program_options); those between ours are written here, at the exact version.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME punch)
set(CPACK_PACKAGE_VENDOR "punch")
set(PUNCH_PACKAGE_MAINTAINER "punch maintainers <maintainers@punch.invalid>" CACHE STRING
  "The Maintainer field of the Debian packages")
set(CPACK_PACKAGE_CONTACT "${PUNCH_PACKAGE_MAINTAINER}")
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would put it above each package's own summary,
# the first line of CPACK_COMPONENT_<X>_DESCRIPTION.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
# Debian ships stripped binaries; stripping also makes packing several times faster.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev broker relay tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libpunch0 says which package provides libpunch.so.0 (DEBIAN/shlibs), for packages built on it.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
# libpunch.so.0 belongs to no installed package yet: dpkg-shlibdeps finds it in the build tree
# and leaves it to the explicit dependency on libpunch0.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/framework)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
# Maintainer scripts 0755, conffiles 0644, whatever the source files' modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libpunch0)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "punch, a C++20 framework for UDP hole punching: the shared library
libpunch: peer sessions, the broker and relay services, the wire protocol and the transport
registry, on Boost.Asio coroutines.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libpunch-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
# The public headers include Boost.Asio (>= 1.81, for any_completion_handler); punchConfig.cmake
# finds Boost's CMake package, which libboost1.81-dev holds.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libboost1.81-dev | libboost-dev (>= 1.81)")
set(CPACK_COMPONENT_DEV_DESCRIPTION "punch, a C++20 framework for UDP hole punching: development files
Headers, the built-in transports (udp, sim), find_package(punch CONFIG) and punch.pc,
the docs and the tutorial's examples.")

# punch_server_package(<server> <summary>): the package punch-<server>, with its maintainer
# scripts and conffile made from packaging/debian/*.in.
function(punch_server_package server summary)
  string(TOUPPER ${server} c)
  set(NAME punch-${server})
  set(dir ${PROJECT_BINARY_DIR}/packaging/debian/${NAME})
  foreach(f postinst prerm postrm conffiles)
    configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/${f}.in ${dir}/${f} @ONLY)
  endforeach()
  set(CPACK_DEBIAN_${c}_PACKAGE_NAME ${NAME} PARENT_SCOPE)
  set(CPACK_DEBIAN_${c}_PACKAGE_SECTION net PARENT_SCOPE)
  set(CPACK_COMPONENT_${c}_DEPENDS runtime PARENT_SCOPE)
  set(CPACK_DEBIAN_${c}_PACKAGE_CONTROL_EXTRA "${dir}/postinst;${dir}/prerm;${dir}/postrm;${dir}/conffiles"
    PARENT_SCOPE)
  set(CPACK_COMPONENT_${c}_DESCRIPTION "${summary}
Runs as the hardened systemd unit ${NAME}.service (not enabled on install): options in
/etc/default/${NAME}, then `systemctl enable --now ${NAME}`." PARENT_SCOPE)
endfunction()
punch_server_package(broker "punch rendezvous broker for UDP hole punching")
punch_server_package(relay "punch relay for the peers that cannot punch")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME punch-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_COMPONENT_TOOLS_DEPENDS runtime)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION "punch reference peer (punch-peer) and demo (punch-demo)
punch-peer is netcat over a hole-punched, encrypted UDP connection; punch-demo runs a broker
and two peers behind simulated NATs in one process and narrates what happens.")

include(CPack)
