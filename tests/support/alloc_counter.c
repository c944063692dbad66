// Preloaded into a process (LD_PRELOAD), counts its calls to the C allocator — malloc, calloc,
// realloc and the aligned ones; operator new and every library allocate through them — in the
// 8-byte file named by RL_ALLOC_COUNT_FILE, mapped shared so a test reads the count while the
// process runs (tests/integration/test_allocations.py). Frees are not counted. Without the
// variable, or if the file cannot be mapped, it only passes the calls on to glibc.
// Not for sanitizer builds: ASan brings its own allocator.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

// glibc's own entry points, which its malloc, calloc, ... are aliases of: calling them needs no
// dlsym(RTLD_NEXT), which would itself allocate before the counter is set up.
extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* p, size_t size);
extern void* __libc_memalign(size_t alignment, size_t size);

static _Atomic unsigned long long* counter;

__attribute__((constructor)) static void map_counter(void) {
  const char* path = getenv("RL_ALLOC_COUNT_FILE");
  if (path == NULL) return;
  const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  void* p = MAP_FAILED;
  if (ftruncate(fd, sizeof *counter) == 0) {
    p = mmap(NULL, sizeof *counter, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  close(fd);
  if (p != MAP_FAILED) counter = p;
}

static void count(void) {
  if (counter != NULL) atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

void* malloc(size_t size) {
  count();
  return __libc_malloc(size);
}

void* calloc(size_t count_, size_t size) {
  count();
  return __libc_calloc(count_, size);
}

void* realloc(void* p, size_t size) {
  count();
  return __libc_realloc(p, size);
}

void* memalign(size_t alignment, size_t size) {
  count();
  return __libc_memalign(alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size) {
  count();
  return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) {
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  count();
  void* p = __libc_memalign(alignment, size);
  if (p == NULL && size != 0) return ENOMEM;
  *out = p;
  return 0;
}
