# Fuzz harnesses (tests/fuzz/<name>_fuzz.cpp, each an LLVMFuzzerTestOneInput). In every build,
# each is linked with tests/fuzz/replay_main.cpp into fuzz_replay_<name>, and CTest replays its
# corpus (tests/fuzz/corpus/<name>) as "fuzz: <name> corpus". RL_FUZZ=ON (clang only) builds
# every target with coverage instrumentation, ASan and UBSan, and each harness also as a
# libFuzzer binary fuzz_<name>; `make fuzz` builds and runs those in build-fuzz/.
option(RL_FUZZ "Build the libFuzzer harnesses (clang); instruments every target" OFF)

if(RL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "RL_FUZZ=ON needs clang: configure with CC=clang CXX=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# rl_add_fuzz_harness(<name> <libraries>...): tests/fuzz/<name>_fuzz.cpp, linked with them.
function(rl_add_fuzz_harness name)
  set(dir ${PROJECT_SOURCE_DIR}/tests/fuzz)
  add_library(fuzz_${name}_harness OBJECT ${dir}/${name}_fuzz.cpp)
  target_link_libraries(fuzz_${name}_harness PUBLIC ${ARGN})
  target_include_directories(fuzz_${name}_harness PUBLIC ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(fuzz_${name}_harness PRIVATE
    RL_FUZZ_TIER_FILE="${PROJECT_SOURCE_DIR}/config/rate_limits.json")
  rl_set_warnings(fuzz_${name}_harness)

  add_executable(fuzz_replay_${name} ${dir}/replay_main.cpp $<TARGET_OBJECTS:fuzz_${name}_harness>)
  target_link_libraries(fuzz_replay_${name} PRIVATE ${ARGN})
  rl_set_warnings(fuzz_replay_${name})
  add_test(NAME "fuzz: ${name} corpus" COMMAND fuzz_replay_${name} ${dir}/corpus/${name})
  set_tests_properties("fuzz: ${name} corpus" PROPERTIES TIMEOUT 300)

  if(RL_FUZZ)
    add_executable(fuzz_${name} $<TARGET_OBJECTS:fuzz_${name}_harness>)
    target_link_libraries(fuzz_${name} PRIVATE ${ARGN})
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  endif()
endfunction()
