# The front door: `make run` and `make test` (README). Thin by design — CMake builds, CTest and
# pytest test, packaging/deps.sh installs the Debian packages that are missing.
BUILD_TYPE ?= Release
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-asan
else
BUILD_DIR ?= build
endif
JOBS ?= $(shell nproc)
PYTHON ?= /usr/bin/python3
RLD := $(abspath $(BUILD_DIR))/apps/rld/rld

.PHONY: all deps deps-build deps-package deps-fuzz build run test unit integration e2e package \
  package-test fuzz format format-check clean

all: build

deps:
	@packaging/deps.sh test

deps-build:
	@packaging/deps.sh build

deps-package:
	@packaging/deps.sh package

deps-fuzz:
	@packaging/deps.sh fuzz

build: deps-build
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DRL_WERROR=ON \
	  -DRL_SANITIZE=$(if $(filter 1,$(SANITIZE)),ON,OFF) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@exec $(RLD) --config config/rld.toml

test: deps build unit integration e2e package-test

unit:
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

integration:
	RLD_BIN=$(RLD) RLCTL_BIN=$(abspath $(BUILD_DIR))/apps/rlctl/rlctl \
	  RLBENCH_BIN=$(abspath $(BUILD_DIR))/apps/rlbench/rlbench \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# Redis Cluster, HAProxy and several workers: each test starts its own servers on loopback.
e2e:
	RLD_BIN=$(RLD) RLCTL_BIN=$(abspath $(BUILD_DIR))/apps/rlctl/rlctl \
	  RLBENCH_BIN=$(abspath $(BUILD_DIR))/apps/rlbench/rlbench \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

# The Debian package, from this build (so SANITIZE=1 packages the sanitized binaries):
# $(BUILD_DIR)/package/rl_<version>_<arch>.deb. The configure step of `build` picks up help2man
# once deps-package has installed it (RL_MAN_PAGES=AUTO); cpack refuses a package without them.
package: deps-package build
	@rm -f $(BUILD_DIR)/package/*.deb
	@cd $(BUILD_DIR) && cpack --config CPackConfig.cmake
	@echo "package: $$(ls $(abspath $(BUILD_DIR))/package/*.deb)"

# Builds the package, then installs it on this machine, runs it and purges it again: needs root
# (dpkg -i, adduser), through sudo when not root. Kept apart from e2e, which changes nothing
# outside its temp directories; tests/package/test_package.py says what it checks.
package-test: package
	$(if $(filter 0,$(shell id -u)),,sudo) env RL_DEB="$$(ls $(abspath $(BUILD_DIR))/package/*.deb)" \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/package

# libFuzzer (clang, ASan, UBSan) in build-fuzz/: each harness of tests/fuzz for FUZZ_SECONDS
# (`make fuzz FUZZ=http_request` for one); fails on any finding. `make test` replays the corpus.
# Warnings are not errors here: clang warns about things GCC, the -Werror compiler, does not.
FUZZ_SECONDS ?= 60
FUZZ ?= http_request resp_reply config_toml tier_json admin_json
fuzz: deps-fuzz
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRL_WERROR=OFF -DRL_FUZZ=ON \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ))
	@tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run -Werror

clean:
	rm -rf build build-asan build-fuzz
