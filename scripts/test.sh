#!/usr/bin/env bash
# Runs every check the project gates on: formatting, lints, unit, property and black-box tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
