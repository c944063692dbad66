# RL_SANITIZE=ON builds every target, tests included, with ASan and UBSan; any report aborts.
if(RL_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
