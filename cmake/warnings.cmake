# Compiler warnings for rl's own targets (never for third-party sources such as llhttp).
function(rl_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough -Wformat=2)
  if(RL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
