#!/usr/bin/env bash
# Builds and runs the gateway bench in its short smoke form, so it cannot rot. Linux only.
# Fails only when the bench cannot run; missed targets are reported in the table.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bench/results/smoke.md}"
dotnet build "$root/bench/ClaudeStack.Bench" -c Release --nologo -v quiet
dotnet "$root/bench/ClaudeStack.Bench/bin/Release/net10.0/ClaudeStack.Bench.dll" --smoke --out "$out"
