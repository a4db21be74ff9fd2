# edu-support: the two commands first.
#   make run    install/start PostgreSQL, Redis, RabbitMQ if needed; build and run all five services
#   make test   the same set-up, then every test (unit, integration, system)

SHELL := /bin/bash
CARGO ?= cargo
SERVICES := intake routing refund training-scheduling notifications

.PHONY: run test lint chart-check bench fuzz token deps toolchain build clean-test-state ci help

help:
	@echo "make run | test | lint | chart-check | bench | fuzz | token ROLE=<role> [SUB=<uuid>] | deps"

## Rust toolchain (rustup) when cargo is missing.
toolchain:
	@scripts/toolchain.sh

## PostgreSQL, Redis, RabbitMQ: used when already answering, installed and started when not.
deps:
	@scripts/deps.sh

build: toolchain
	$(CARGO) build --workspace --bins

## Run the whole platform locally; Ctrl-C stops everything.
run: deps build
	@scripts/run.sh

## Every test against real PostgreSQL, Redis and RabbitMQ.
test: deps toolchain clean-test-state
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --no-fail-fast

## Drops databases and queues left by earlier test runs.
clean-test-state:
	@scripts/clean-test-state.sh

lint: toolchain
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

chart-check:
	@scripts/chart-check.sh

## Benchmarks on release builds, each beside the raw figure of what it stands on.
bench: deps toolchain
	@scripts/bench.sh

## API fuzzing: schemathesis against every service as every role (a fresh database each);
## any 5xx or undocumented status fails. Report: target/fuzz/report.md. Options: FUZZ_ARGS="--help".
fuzz: deps build
	@scripts/fuzz.sh $(FUZZ_ARGS)

## A development JWT the local stack accepts: make token ROLE=agent [SUB=<uuid>] [FUNCTIONS=trainer] [SCOPES=notifications:send]
token:
	@$(CARGO) run -q -p platform --bin devtoken -- --role $(or $(ROLE),customer) $(if $(SUB),--sub $(SUB),) $(if $(FUNCTIONS),--functions $(FUNCTIONS),) $(if $(SCOPES),--scopes $(SCOPES),)

ci: lint chart-check test
