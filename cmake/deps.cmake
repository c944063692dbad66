# Third-party dependencies, all from Debian packages (see packaging/deps.sh).
# llhttp has no library package: Debian's node-llhttp ships its C sources, built here statically.
find_package(PkgConfig REQUIRED)
pkg_check_modules(libuv REQUIRED IMPORTED_TARGET libuv>=1.44)
pkg_check_modules(hiredis REQUIRED IMPORTED_TARGET hiredis>=0.14)
# sd_notify and socket activation (rld only).
pkg_check_modules(libsystemd REQUIRED IMPORTED_TARGET libsystemd>=247)
find_package(OpenSSL 3 REQUIRED COMPONENTS Crypto)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(tomlplusplus 3.3 REQUIRED)
find_package(CLI11 2.1 REQUIRED)
if(RL_BUILD_TESTS)
  find_package(doctest 2.4 REQUIRED)
endif()

find_path(LLHTTP_INCLUDE_DIR llhttp.h PATHS /usr/share/include/llhttp /usr/include/llhttp
          REQUIRED NO_DEFAULT_PATH)
find_path(LLHTTP_SOURCE_DIR llhttp.c PATHS /usr/share/llhttp REQUIRED NO_DEFAULT_PATH)
add_library(llhttp STATIC
  ${LLHTTP_SOURCE_DIR}/llhttp.c ${LLHTTP_SOURCE_DIR}/api.c ${LLHTTP_SOURCE_DIR}/http.c)
target_include_directories(llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
# Not a unity build: llhttp's C files declare the same static helpers.
set_target_properties(llhttp PROPERTIES C_STANDARD 99 POSITION_INDEPENDENT_CODE ON UNITY_BUILD OFF)
target_compile_options(llhttp PRIVATE -w)
# Strict mode: no bare LF line endings, no obs-fold leniency — a limiter is a security boundary.
target_compile_definitions(llhttp PUBLIC LLHTTP_STRICT_MODE=1)
add_library(rl::llhttp ALIAS llhttp)
