# The servers' systemd units and their option files, made at install time from one template
# (packaging/systemd/punch-server.service.in): only then is the prefix known, which is /usr in
# the Debian packages and whatever `cmake --install --prefix` says otherwise, so the unit names
# the installed binary wherever it is.

# punch_install_server_unit(<server> <description> <options variable>): installs, in the
# component <server>, lib/systemd/system/punch-<server>.service and etc/default/punch-<server>
# (/etc/default under the prefix /usr, GNU's rule for sysconfdir).
function(punch_install_server_unit server description variable)
  set(name punch-${server})
  install(CODE "
    set(punch_unit_template \"${PROJECT_SOURCE_DIR}/packaging/systemd/punch-server.service.in\")
    set(punch_unit_defaults \"${PROJECT_SOURCE_DIR}/packaging/default/${name}\")
    set(punch_unit_stage \"${PROJECT_BINARY_DIR}/packaging\")
    set(NAME \"${name}\")
    set(DESCRIPTION \"${description}\")
    set(OPTIONS_VARIABLE \"${variable}\")
    set(punch_bindir \"${CMAKE_INSTALL_BINDIR}\")
    set(punch_sysconfdir \"${CMAKE_INSTALL_SYSCONFDIR}\")" COMPONENT ${server})
  install(CODE [[
    set(BINDIR "${CMAKE_INSTALL_PREFIX}/${punch_bindir}")
    if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
      set(SYSCONFDIR "/etc")
    else()
      set(SYSCONFDIR "${CMAKE_INSTALL_PREFIX}/${punch_sysconfdir}")
    endif()
    # One staging folder per destination: two installs at once (a test's and cpack's) must not
    # write each other's unit.
    string(SHA1 punch_unit_key "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
    set(punch_unit_file "${punch_unit_stage}/${punch_unit_key}/${NAME}.service")
    configure_file("${punch_unit_template}" "${punch_unit_file}" @ONLY)
    file(INSTALL "${punch_unit_file}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    file(INSTALL "${punch_unit_defaults}" DESTINATION "${SYSCONFDIR}/default"
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  ]] COMPONENT ${server})
endfunction()
