#!/usr/bin/env bash
# Installs code-server (a real VS Code extension host with its web workbench) for the
# extension's integration tests, offline from GitHub: only the npm registry is used.
# The result is cached in $STACKLINE_CACHE (default ~/.cache/stackline) and reused.
# Prints the path of code-server's entry.js on its last line.
set -euo pipefail

VERSION=4.100.3 # the last release that runs on Node 20; it carries VS Code 1.100.3
CACHE=${STACKLINE_CACHE:-$HOME/.cache/stackline}
TARGET=$CACHE/code-server-$VERSION
ENTRY=$TARGET/package/out/node/entry.js

if [ -f "$TARGET/.complete" ]; then
  echo "$ENTRY"
  exit 0
fi

for tool in npm node rg; do
  command -v "$tool" >/dev/null || { echo "install-code-server: $tool is missing" >&2; exit 1; }
done

mkdir -p "$CACHE"
staging=$(mktemp -d "$CACHE/installing-code-server.XXXXXX")
trap 'rm -rf "$staging"' EXIT
cd "$staging"
quiet=(--no-audit --no-fund --loglevel=error)

npm pack "code-server@$VERSION" "${quiet[@]}" >/dev/null
tar -xzf "code-server-$VERSION.tgz"
rm "code-server-$VERSION.tgz"

# Scripts off: one dependency's post-install downloads ripgrep from GitHub. The native
# modules that matter are rebuilt by name instead, and Debian's rg takes the download's place.
(cd package && npm install --omit=dev --ignore-scripts "${quiet[@]}" >/dev/null && npm rebuild argon2 >/dev/null)
(
  cd package/lib/vscode
  npm install --omit=dev --ignore-scripts "${quiet[@]}" >/dev/null
  # node-pty's last post-install step reports a failure although the module is built.
  npm rebuild @parcel/watcher @vscode/spdlog kerberos native-watchdog node-pty @vscode/deviceid \
    >/dev/null 2>&1 || true
  mkdir -p node_modules/@vscode/ripgrep/bin
  cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  # The links code-server's own post-install makes.
  ln -sfn node_modules node_modules.asar
  ln -sfn code-linux.sh bin/remote-cli/code-server
  ln -sfn browser-linux.sh bin/helpers/browser.sh
  (cd extensions && npm install --omit=dev --ignore-scripts "${quiet[@]}" >/dev/null)
)

# code-server writes its config and data on every start, even for --version.
XDG_CONFIG_HOME=$staging/xdg XDG_DATA_HOME=$staging/xdg node package/out/node/entry.js --version >/dev/null
rm -rf "$staging/xdg"

trap - EXIT
rm -rf "$TARGET"
mv "$staging" "$TARGET"
touch "$TARGET/.complete"
echo "$ENTRY"
