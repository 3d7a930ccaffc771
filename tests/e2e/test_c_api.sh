#!/usr/bin/env bash
# The C API: a C program embedding lacuna through include/lacuna.h.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$LACUNA_EMBED_TEST" ../fixtures/e2e/four.jsonl "$tmp"
