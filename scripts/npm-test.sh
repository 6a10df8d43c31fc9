#!/usr/bin/env bash
# Installs the packed beeline-web tarball (scripts/build-npm.sh) into a scratch folder, as a
# user would, and runs web/test/node.test.mjs there with `node --test` (Node entry, CPU path).
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=$(ls target/npm/beeline-web-*.tgz 2>/dev/null | head -1)
[[ -n $tarball ]] || { echo "error: no target/npm/beeline-web-*.tgz: run scripts/build-npm.sh first" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp web/test/node.test.mjs "$scratch/"
# The repository's manifest, which the package's list must match (node.test.mjs reads it).
cp models/bundled.json "$scratch/repo-bundled.json"
(cd "$scratch" && npm init -y >/dev/null && npm install --no-audit --no-fund "$OLDPWD/$tarball" >/dev/null)
echo "== node --test (beeline-web installed from $(basename "$tarball") in $scratch)"
(cd "$scratch" && node --test --test-reporter=spec node.test.mjs)
