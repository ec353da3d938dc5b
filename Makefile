# skiff: the first two commands on a fresh Debian 12 machine are `make demo` and `make check`.
BUILD ?= build
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Every Debian package the build, the tests, the demo and the benchmarks need.
PACKAGES := build-essential cmake pkg-config libgtest-dev nlohmann-json3-dev libcli11-dev \
  libseccomp-dev libcap-dev libcurl4-openssl-dev libssl-dev libarchive-dev libmnl-dev \
  libnftables-dev libzstd-dev libisal-dev busybox-static runc crun hyperfine strace containerd podman conmon \
  docker-registry skopeo umoci debootstrap apache2-utils zstd curl

.PHONY: all deps build demo check unit integration asan bench clean

all: build

# Idempotent and quick when everything is there: dpkg-query first, apt-get only for what is missing.
deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja $(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./scripts/demo.sh $(BUILD)

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

integration: build
	cd $(BUILD) && ctest --output-on-failure -L integration

# The unit tests again under ASan and UBSan.
asan: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DSKIFF_SANITIZE=ON
	cmake --build $(BUILD)-asan -j $(JOBS) --target skiff_unit_tests
	$(BUILD)-asan/tests/skiff_unit_tests

check: build
	cd $(BUILD) && ctest --output-on-failure

bench: build
	./bench/start $(BUILD)
	./bench/pull $(BUILD)
	./bench/run $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan
