#!/usr/bin/env bash
# Rebuild three.min.js: three.js from the npm registry as one classic script (window.THREE).
# A page opened from file:// cannot load ES modules, and three ships no UMD build any more.
set -euo pipefail
THREE_VERSION=0.187.0
ESBUILD_VERSION=0.28.2
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund "three@$THREE_VERSION" "esbuild@$ESBUILD_VERSION" >/dev/null
printf 'import * as THREE from "three";\nwindow.THREE = THREE;\n' > entry.js
node_modules/.bin/esbuild entry.js --bundle --minify --format=iife --legal-comments=inline \
  --banner:js="/* three.js $THREE_VERSION (MIT, see LICENSE.three) as window.THREE; built by build_three.sh */" \
  --outfile="$here/three.min.js"
cp node_modules/three/LICENSE "$here/LICENSE.three"
