# kumo - top-level entry points. See README.md.
#   make demo   install missing packages, build, run the market scenario
#   make example NAME=ml-batch|latency   the same, then run that example end to end
#   make test   install missing packages, then: checks, debug tests, ASan+UBSan tests, fuzzing
.PHONY: all deps build demo example test check test-debug test-asan test-release fuzz bench format clean

FUZZ_SECONDS ?= 10
# `make test` runs the real-process tests (adversary, e2e) once, on the asan-ubsan preset; the
# debug preset adds its unit, simulation and corpus replay tests, the release preset its unit
# and simulation tests (the optimized build searches the most consensus seeds).
DEBUG_TESTS ?=
RELEASE_TESTS ?=

all: build

deps:
	@tools/deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release

demo: build
	tools/demo.sh build/release/kumo

# make example NAME=ml-batch (or latency): an example with a management tier, end to end.
example: build
	@test -n "$(NAME)" || { echo "usage: make example NAME=<examples/ folder: ml-batch, latency>"; exit 2; }
	tools/example.sh $(NAME) build/release/kumo

check: deps
	tools/check.sh

test-debug: deps
	cmake --preset debug >/dev/null
	cmake --build --preset debug
	tools/check_pure.sh build/debug
	ctest --preset debug $(DEBUG_TESTS)

test-asan: deps
	cmake --preset asan-ubsan >/dev/null
	cmake --build --preset asan-ubsan
	ctest --preset asan-ubsan

test-release: deps
	cmake --preset release >/dev/null
	cmake --build --preset release
	ctest --preset release $(RELEASE_TESTS)

fuzz: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz
	tools/fuzz.sh $(FUZZ_SECONDS)

test: DEBUG_TESTS = -L '^(unit|sim|fuzz)$$'
test: RELEASE_TESTS = -L '^(unit|sim)$$'
test: check test-debug test-asan test-release fuzz

bench: build
	mkdir -p build/bench
	bash -o pipefail -c 'tools/bench.sh | tee build/bench/bench.txt'
	tools/bench_report.sh build/bench/bench.txt build/bench

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf build
