# SPDX-License-Identifier: GPL-2.0-only
# Entry points: `make run` (set up, build, boot the default guest) and
# `make test` (set up, build, every test suite).  The build itself is meson.
BUILD ?= build
PYTHON ?= /usr/bin/python3

.PHONY: all deps build guest run test unit integration bench clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

guest: deps
	@./guest/make-guest.sh $(BUILD)/guest

run: build guest
	./$(BUILD)/vireo run

unit: build
	meson test -C $(BUILD) --print-errorlogs

integration: build guest
	VIREO_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -v -rs tests/integration

test: unit integration

# Benchmarks beside QEMU (ratios); not part of `make test`: these machines are noisy.
bench: build guest
	@for b in boot mips disk switch virtio-disk virtio-balloon; do \
		echo "== bench/$$b.sh"; ./bench/$$b.sh || exit 1; done

clean:
	rm -rf $(BUILD)
