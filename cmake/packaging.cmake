# The Debian package (`make package`): install rules for the package's layout, man pages made by
# help2man from each binary's --help, and CPack's DEB generator. The package always installs
# under /usr, whatever CMAKE_INSTALL_PREFIX is: the systemd units name /usr/bin/rld and
# /etc/rld/rld.toml, so those paths are fixed. `cmake --install` uses the same rules (with
# CMAKE_INSTALL_PREFIX for the binaries, man pages and docs; /etc/rld and the units stay absolute).
include(GNUInstallDirs)

set(RL_PACKAGE_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(RL_CONF_DIR /etc/rld)
# Debian 12's place for packaged units (dh_installsystemd's too); /lib is /usr/lib there anyway.
set(RL_SYSTEMD_UNIT_DIR /lib/systemd/system)

# --- Man pages --------------------------------------------------------------------------------
# AUTO: made when help2man is found (a normal build never needs it); ON: required; OFF: never.
# A package without man pages is refused by the check in CPackProjectConfig.cmake below.
set(RL_MAN_PAGES AUTO CACHE STRING "Man pages from --help with help2man: AUTO, ON or OFF")
set_property(CACHE RL_MAN_PAGES PROPERTY STRINGS AUTO ON OFF)
find_program(RL_HELP2MAN help2man)
find_program(RL_GZIP gzip)
if(RL_MAN_PAGES STREQUAL "AUTO")
  if(RL_HELP2MAN AND RL_GZIP)
    set(rl_build_man_pages ON)
  else()
    set(rl_build_man_pages OFF)
  endif()
elseif(RL_MAN_PAGES)
  if(NOT RL_HELP2MAN OR NOT RL_GZIP)
    message(FATAL_ERROR "RL_MAN_PAGES=ON needs help2man and gzip: apt-get install help2man gzip "
                        "(or packaging/deps.sh package)")
  endif()
  set(rl_build_man_pages ON)
else()
  set(rl_build_man_pages OFF)
endif()

# The --help texts are UTF-8 (an em dash): help2man's default C locale would print "???".
# help2man dates the page from SOURCE_DATE_EPOCH when set: the last commit's time keeps the
# page (and so the package) the same for the same sources.
execute_process(
  COMMAND git log -1 --format=%ct
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  OUTPUT_VARIABLE rl_source_date OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)

set(rl_man_pages "")
function(rl_man_page target section description)
  set(page ${PROJECT_BINARY_DIR}/man/${target}.${section})
  set(include ${RL_PACKAGE_DIR}/man/${target}.h2m)
  set(env "")
  if(rl_source_date)
    set(env ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=${rl_source_date})
  endif()
  add_custom_command(
    OUTPUT ${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${env} ${RL_HELP2MAN} --no-info --section=${section} --name=${description}
            "--source=rl ${PROJECT_VERSION}" --locale=C.UTF-8 --include=${include}
            --output=${page} $<TARGET_FILE:${target}>
    COMMAND ${RL_GZIP} -9nf ${page}
    DEPENDS ${target} ${include}
    COMMENT "Man page ${target}(${section}) from ${target} --help"
    VERBATIM)
  install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  set(rl_man_pages ${rl_man_pages} ${page}.gz PARENT_SCOPE)
endfunction()

if(rl_build_man_pages)
  rl_man_page(rld 8 "rate-limit decision daemon")
  rl_man_page(rlctl 1 "manage rl tiers, users, API keys, health state and blocks in Redis")
  rl_man_page(rlbench 1 "load tester and verifier for rld")
  add_custom_target(man_pages ALL DEPENDS ${rl_man_pages})
endif()

# --- Install rules (the binaries' own are in apps/*/CMakeLists.txt: bin/) ----------------------
install(FILES ${RL_PACKAGE_DIR}/deb/rld.toml ${RL_PACKAGE_DIR}/deb/rate_limits.json
        DESTINATION ${RL_CONF_DIR})
install(FILES ${RL_PACKAGE_DIR}/systemd/rld.service ${RL_PACKAGE_DIR}/systemd/rld.socket
        DESTINATION ${RL_SYSTEMD_UNIT_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${RL_PACKAGE_DIR}/deb/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# The demo configuration documents every key; its tier file (with demo keys) is not shipped.
install(FILES ${PROJECT_SOURCE_DIR}/config/rld.toml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# --- CPack: one .deb, rl_<version>_<arch>.deb in <build>/package --------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_VERBATIM_VARIABLES ON)  # the description has quotes
set(CPACK_PACKAGE_NAME rl)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "the rl authors")
# The repository's commit identity until the project names a maintainer.
set(CPACK_PACKAGE_CONTACT
    "Seed 2bfeb801 maintainers <maintainers@users.noreply.r-seed-2bfeb801.example>"
    CACHE STRING "Maintainer of the Debian package")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "distributed rate limiter: rld daemon, rlctl and rlbench")
# The long description as Debian wants it: lines under 80 columns, " ." between paragraphs
# (CPack indents every line by one space).
set(CPACK_PACKAGE_DESCRIPTION [[
rld answers "may this request pass?" over HTTP on TCP and Unix sockets: as a
forward-auth service for nginx auth_request, Envoy, Traefik or HAProxy, or
directly to applications. Per-tier limits, a health state that sheds load
when degraded, API-key checks that block abusive clients, an admin API and
Prometheus metrics. Limits live in memory or are shared by any number of
instances through Redis or Redis Cluster.
.
rlctl manages tiers, users, API keys, the health state and client blocks in
Redis; rlbench drives and verifies a running rld.]])
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
# Install into the staging directory with DESTDIR, so that the absolute destinations (/etc/rld,
# /lib/systemd/system) land in the package and never on the build machine; CPACK_INSTALL_PREFIX
# is the prefix of that install, CPACK_PACKAGING_INSTALL_PREFIX the one the package states.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # rl_<version>_<arch>.deb (no Debian revision)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The architecture is dpkg --print-architecture (CPack's default); the library dependencies come
# from dpkg-shlibdeps (dpkg-dev) on the built binaries, plus what the maintainer scripts use.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS redis-server)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${RL_PACKAGE_DIR}/deb/conffiles ${RL_PACKAGE_DIR}/deb/postinst ${RL_PACKAGE_DIR}/deb/prerm
    ${RL_PACKAGE_DIR}/deb/postrm)
# 0644 for conffiles, 0755 for the scripts, whatever the checkout's modes are.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

# Read by cpack before it builds anything: refuse a package without man pages with a clear
# message, rather than ship one without them.
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/CPackProjectConfig.cmake)
file(CONFIGURE OUTPUT ${CPACK_PROJECT_CONFIG_FILE} CONTENT [[
# Generated by cmake/packaging.cmake.
set(RL_MAN_PAGES_BUILT @rl_build_man_pages@)
if(NOT RL_MAN_PAGES_BUILT)
  message(FATAL_ERROR "rl: the package needs man pages, which need help2man. Install it "
                      "(apt-get install help2man, or packaging/deps.sh package) and configure "
                      "again (cmake -DRL_MAN_PAGES=ON @PROJECT_BINARY_DIR@), or run make package.")
endif()
]] @ONLY)

include(CPack)
