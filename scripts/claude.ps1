#!/usr/bin/env pwsh
# Runs Claude Code inside the stack's running claude-code container.
#   scripts/claude.ps1 [claude args...]      e.g. scripts/claude.ps1 -p "explain this repo"
# Container: $env:CLAUDE_STACK_CONTAINER (default claudestack-claude-code).
# No param() block on purpose: every argument, -p included, reaches claude through $args.
$container = if ($env:CLAUDE_STACK_CONTAINER) { $env:CLAUDE_STACK_CONTAINER } else { 'claudestack-claude-code' }

if (-not (Get-Command docker -ErrorAction SilentlyContinue)) {
    [Console]::Error.WriteLine('claude: docker is not installed or not on PATH.')
    exit 127
}

$running = & docker container inspect -f '{{.State.Running}}' $container 2>$null
if ($LASTEXITCODE -ne 0 -or "$running".Trim() -ne 'true') {
    # Not the container's fault when the engine itself cannot be reached (not started, or no access): say that instead.
    $engine = & docker version --format '{{.Server.Version}}' 2>&1
    if ($LASTEXITCODE -ne 0) {
        [Console]::Error.WriteLine("claude: cannot reach the Docker engine: $(($engine | Out-String).Trim())")
        exit 1
    }
    [Console]::Error.WriteLine("claude: container '$container' is not running.")
    [Console]::Error.WriteLine('Start the stack first: dotnet run --project ClaudeStack.AppHost')
    [Console]::Error.WriteLine('(or set CLAUDE_STACK_CONTAINER to the name of your claude-code container)')
    exit 1
}

# -it with a terminal on both sides; without one, -i only when input is redirected (a pipe
# or file to forward): with a console's input and the output redirected, docker exec would
# wait for input that never comes, and Claude Code's print mode with it.
$flags = @()
if (-not [Console]::IsInputRedirected -and -not [Console]::IsOutputRedirected) { $flags = @('-it') }
elseif ([Console]::IsInputRedirected) { $flags = @('-i') }

# Through the image's entrypoint: a `docker run --user` uid gets a writable home and the seeded config.
& docker exec @flags -w /workspace $container claudestack-entrypoint claude @args
exit $LASTEXITCODE
