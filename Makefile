# soma's entry points. `make run` and `make test` install what is missing (Debian packages),
# build, and run; both work on a fresh Debian 12 machine.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
# The tests that run threads: the pool, the caches and the store, the llvm backend's launches.
TSAN_SMOKE ?= ^(ThreadPool|DiskCache|WriteFileAtomic|ParamStore)\.
TSAN_LONG ?= ^(ThreadPool|DiskCache|WriteFileAtomic|ParamStore|LlvmExecutable|LlvmLowered|LlvmDiskCache|Launcher)
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run test test-release test-asan test-long fuzz-build fuzz-smoke \
	fuzz-long tsan-configure tsan-smoke tsan-long bench format clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The main job: train the Fashion-MNIST MLP from the soma tool on the default backend (llvm).
run: build
	./$(BUILD)/soma run examples/fashion_mnist_mlp.soma

# Every test: the release build, then the fast suites under ASan + UBSan, 30 seconds of each
# fuzzer, and the thread pool's, caches' and parameter store's tests under ThreadSanitizer.
test: test-release test-asan fuzz-smoke tsan-smoke

# The long runs: every test, each fuzzer for 10 minutes, and every multi-threaded suite
# (including the llvm backend's parallel kernels) under ThreadSanitizer.
test-long: test-release test-asan fuzz-long tsan-long

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# Debug (assertions and the IR verifiers on) at -O1 with line tables: ASan's recommended level,
# about twice as fast to run as -O0 and quicker to link than full debug information.
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSOMA_SANITIZE=ON \
	  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DSOMA_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -L fast

# libFuzzer targets (tests/fuzz), built with clang 19 under ASan + UBSan.
fuzz-build: deps
	CC=clang-19 CXX=clang++-19 cmake -S . -B $(FUZZ_BUILD) -G Ninja \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOMA_FUZZ=ON -DSOMA_BUILD_TESTS=OFF \
	  -DSOMA_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) --target fuzz -j $(JOBS)

fuzz-smoke: fuzz-build
	bash scripts/fuzz.sh $(FUZZ_BUILD) 30

fuzz-long: fuzz-build
	bash scripts/fuzz.sh $(FUZZ_BUILD) 600

tsan-configure: deps
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOMA_TSAN=ON \
	  -DSOMA_BUILD_BENCH=OFF $(CMAKE_FLAGS)

tsan-smoke: tsan-configure
	cmake --build $(TSAN_BUILD) --target soma_runtime_tests -j $(JOBS)
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir $(TSAN_BUILD) --output-on-failure \
	  -j $(JOBS) -R '$(TSAN_SMOKE)'

tsan-long: tsan-configure
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir $(TSAN_BUILD) --output-on-failure \
	  -j $(JOBS) -R '$(TSAN_LONG)'

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
