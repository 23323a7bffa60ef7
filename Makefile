# The two commands of the README. Both work on a fresh Debian 12 machine as root:
#   make run    installs missing Debian packages, builds, and runs the main job
#   make test   installs missing Debian packages, builds, and runs every test through ctest
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

# Debian packages the build needs (see README.md). OpenBLAS matters: without it LibTorch falls back
# to the reference BLAS, about ten times slower.
DEB_PACKAGES := build-essential cmake ninja-build pkg-config \
  libtorch-dev libopenblas0-pthread libblas-dev libthrust-dev libbox2d-dev \
  libzmq3-dev cppzmq-dev libsdl2-dev libsdl2-image-dev libsdl2-ttf-dev fonts-dejavu-core libgif-dev xvfb xdotool \
  libyaml-cpp-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev clang \
  pybind11-dev python3-dev python3-numpy python3-pytest libgloo-dev lld

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps configure build run test bench clean

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The main job: PPO on CartPole-v1 with the default config, then its evaluation.
run: build
	./$(BUILD_DIR)/apiary train configs/cartpole_ppo.yaml

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

bench: build
	bash bench/envs.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
