# Thin wrapper over CMake (the one build system) for the README's two commands:
#   make run    build, fetch the default model if missing, and generate
#   make test   build, fetch the default model, run every test (release + ASan/UBSan + fuzz)
BUILD ?= build
JOBS ?= 2
PROMPT ?= Explain in two sentences why the sky is blue.
FUZZ_SECONDS ?= 20

.PHONY: all build model run chat test test-release test-asan fuzz clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

model:
	@./scripts/get-model.sh >/dev/null

run: build model
	./$(BUILD)/seek run --chat -p "$(PROMPT)" -n 128

chat: build model
	./$(BUILD)/seek chat

test: test-release test-asan fuzz
	@echo "all test stages passed"

test-release: build model
	cd $(BUILD) && ctest --output-on-failure -j1

# Unit and bad-input tests again under AddressSanitizer + UBSan (leaks included).
test-asan: model
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEEK_SANITIZE=address,undefined >/dev/null
	cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 SEEK_ASAN=1 ctest --output-on-failure -j1 -E 'test_golden'

# libFuzzer targets (clang), each run briefly from its seed corpus.
fuzz: model
	CC=clang cmake -S . -B $(BUILD)-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEEK_FUZZ=ON \
	  -DSEEK_SANITIZE=address,undefined,fuzzer-no-link >/dev/null
	cmake --build $(BUILD)-fuzz -j$(JOBS) --target fuzz_gguf fuzz_tokenizer fuzz_safetensors fuzz_openai fuzz_train_config fuzz_model
	./tests/fuzz/run.sh $(BUILD)-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz
