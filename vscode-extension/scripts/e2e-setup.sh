#!/usr/bin/env bash
# Installs what the end-to-end test needs: code-server (a headless VS Code from the npm registry),
# its native modules rebuilt for this machine's Node, Debian's chromium and ripgrep.
# Idempotent: every step is skipped when its result is already there, so a second run takes
# about a second. The install lives outside the work tree (a fresh clone reuses it):
#   REPLAY_LENS_E2E_CACHE (default: ${XDG_CACHE_HOME:-$HOME/.cache}/replay-lens-e2e)
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
CACHE=${REPLAY_LENS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/replay-lens-e2e}
ROOT=$CACHE/code-server-$CODE_SERVER_VERSION
STAMP=$ROOT/.installed
DEBS=(libkrb5-dev libxkbfile-dev libsecret-1-dev libx11-dev ripgrep chromium)

log() { printf 'e2e-setup: %s\n' "$*" >&2; }

missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f "$STAMP" ] && [ -x "$ROOT/node_modules/.bin/code-server" ]; then
  log "code-server $CODE_SERVER_VERSION already installed in $ROOT"
  exit 0
fi

mkdir -p "$ROOT"
cd "$ROOT"
[ -f package.json ] || echo '{"name":"replay-lens-e2e-code-server","private":true}' > package.json
if [ ! -f node_modules/code-server/package.json ]; then
  log "npm install code-server@$CODE_SERVER_VERSION (no scripts)"
  npm install --no-save --ignore-scripts --no-audit --no-fund "code-server@$CODE_SERVER_VERSION"
fi

VS=$ROOT/node_modules/code-server/lib/vscode
if [ ! -f "$VS/.deps-installed" ]; then
  log "installing VS Code's own dependencies (no scripts)"
  (cd "$VS" && npm install --omit=dev --ignore-scripts --no-audit --no-fund)
  touch "$VS/.deps-installed"
fi

mkdir -p "$VS/node_modules/@vscode/ripgrep/bin"
ln -sf /usr/bin/rg "$VS/node_modules/@vscode/ripgrep/bin/rg"

if [ ! -f "$VS/.native-rebuilt" ]; then
  log "rebuilding VS Code's native modules for node $(node -v)"
  (cd "$VS" && npm_config_yes=true npm rebuild node-pty @parcel/watcher @vscode/spdlog kerberos native-watchdog @vscode/sqlite3)
  touch "$VS/.native-rebuilt"
fi

log "rebuilding argon2"
npm rebuild argon2
touch "$STAMP"
log "code-server $CODE_SERVER_VERSION ready in $ROOT"
