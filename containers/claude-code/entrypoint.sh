#!/usr/bin/env bash
# Entrypoint of the claude-code image (runs under tini).
#
#   <image> idle            stay up; attach with `docker exec -it <container> claude`
#   <image> task            run one non-interactive task from environment variables:
#                             CLAUDE_TASK_PROMPT         (required) the prompt
#                             CLAUDE_TASK_OUTPUT_FORMAT  text | json | stream-json
#                             CLAUDE_TASK_ALLOWED_TOOLS  e.g. "Write Bash(echo:*)"
#                           output goes to the container log; exit code is Claude Code's
#   <image> [args...]       anything else: `claude args...` (interactive with -it)
#
# The model comes from ANTHROPIC_MODEL (read by Claude Code itself), the
# endpoint from ANTHROPIC_BASE_URL, the credential from ANTHROPIC_AUTH_TOKEN.
set -euo pipefail

# `docker run --user <uid>:<gid>` (another way to match the host user) leaves
# HOME=/home/node, which that uid cannot write; give it a private home instead.
if [ ! -w "${HOME:-/nonexistent}" ]; then
  export HOME="/tmp/claude-home-$(id -u)"
  mkdir -p "$HOME"
fi

# With CLAUDE_CONFIG_DIR (the stack sets it, with a volume there) Claude Code keeps its whole state in that folder,
# .claude.json included. A uid that cannot write it keeps its state in its own home instead.
if [ -n "${CLAUDE_CONFIG_DIR:-}" ] && ! { mkdir -p "$CLAUDE_CONFIG_DIR" 2>/dev/null && [ -w "$CLAUDE_CONFIG_DIR" ]; }; then
  echo "claudestack: uid $(id -u) cannot write CLAUDE_CONFIG_DIR ($CLAUDE_CONFIG_DIR); Claude Code's state goes to $HOME/.claude and ends with this container." >&2
  export CLAUDE_CONFIG_DIR="$HOME/.claude"
fi

config_file="${CLAUDE_CONFIG_DIR:-$HOME}/.claude.json"

# Seed a minimal global config so the first run shows no onboarding. /workspace
# is marked trusted only when CLAUDESTACK_TRUST_WORKSPACE=1 asks for it: trust
# lets the project's own .claude/settings.json run hooks and redirect Claude
# Code unasked, so an untrusted clone gets Claude Code's question first (print
# mode never asks). An existing file (a mounted config, or
# one from an earlier run in a volume) is never touched, not even merged: it
# belongs to the user, may be a single-file bind mount (which cannot be
# replaced atomically), and a Claude Code on the host may be writing it at the
# same moment. Whoever mounts a config decides its onboarding and trust state.
seed_config() {
  if [ -e "$config_file" ]; then
    return 0
  fi
  mkdir -p "$(dirname "$config_file")"
  local tmp
  tmp="$(mktemp "$config_file.XXXXXX")"
  if [ "${CLAUDESTACK_TRUST_WORKSPACE:-}" = 1 ]; then
    cat >"$tmp" <<'JSON'
{
  "hasCompletedOnboarding": true,
  "projects": {
    "/workspace": {
      "hasTrustDialogAccepted": true
    }
  }
}
JSON
  else
    printf '{\n  "hasCompletedOnboarding": true\n}\n' >"$tmp"
  fi
  # No-clobber rename: if something created the file meanwhile, keep theirs.
  mv -n "$tmp" "$config_file" || true
  rm -f "$tmp"
}

idle() {
  # No hostname here: with --network host it is the host's, not the container's id.
  cat <<EOF
Claude Code $(claude --version 2>/dev/null || echo '(version unknown)') is ready in this container.
Attach from the host:
  docker exec -it <container> claude        (its name or id, as docker ps lists it)
  scripts/claude [args...]                  (uses \$CLAUDE_STACK_CONTAINER, default claudestack-claude-code)
Waiting; stop the container to end.
EOF
  trap 'stop_sessions; exit 0' TERM INT HUP
  # sleep in the background so the trap runs as soon as a signal arrives.
  sleep infinity &
  wait $!
}

# When this process (under tini, PID 1) ends, the kernel kills every other process in the container at once, with
# SIGKILL: sessions attached with `docker exec` would get no chance to end. They get TERM first, and up to 8 of the
# 10 seconds `docker stop` waits by default.
stop_sessions() {
  pkill -TERM -x 'claude(\.exe)?' 2>/dev/null || return 0
  local waited=0
  while pgrep -x 'claude(\.exe)?' >/dev/null 2>&1 && [ "$waited" -lt 40 ]; do
    sleep 0.2
    waited=$((waited + 1))
  done
}

task() {
  if [ -z "${CLAUDE_TASK_PROMPT:-}" ]; then
    echo "error: task mode needs the prompt in CLAUDE_TASK_PROMPT (it is empty or unset)." >&2
    exit 2
  fi
  local -a args=()
  if [ -n "${CLAUDE_TASK_OUTPUT_FORMAT:-}" ]; then
    args+=(--output-format "$CLAUDE_TASK_OUTPUT_FORMAT")
    # Claude Code requires --verbose for stream-json in print mode.
    if [ "$CLAUDE_TASK_OUTPUT_FORMAT" = stream-json ]; then
      args+=(--verbose)
    fi
  fi
  if [ -n "${CLAUDE_TASK_ALLOWED_TOOLS:-}" ]; then
    args+=(--allowedTools "$CLAUDE_TASK_ALLOWED_TOOLS")
  fi
  # The prompt last, after "--": a prompt that starts with "-" is no option.
  # stdin closed: print mode must not wait for piped input.
  exec claude "${args[@]}" -p -- "$CLAUDE_TASK_PROMPT" </dev/null
}

seed_config

case "${1:-}" in
  idle) idle ;;
  task) task ;;
  claude) shift; exec claude "$@" ;;
  *) exec claude "$@" ;;
esac
