#!/usr/bin/env bash
# Installs the packed beeline-web tarball (scripts/build-npm.sh) into a scratch folder, as a
# user would, runs web/test/node.test.mjs there with `node --test` (Node entry, CPU path), and
# type-checks web/test/consumer.ts against the package's declarations.
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=$(ls target/npm/beeline-web-*.tgz 2>/dev/null | head -1)
[[ -n $tarball ]] || { echo "error: no target/npm/beeline-web-*.tgz: run scripts/build-npm.sh first" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp web/test/node.test.mjs web/test/hostile-models.mjs "$scratch/"
# The repository's manifest, which the package's list must match (node.test.mjs reads it).
cp models/bundled.json "$scratch/repo-bundled.json"
(cd "$scratch" && npm init -y >/dev/null && npm install --no-audit --no-fund "$OLDPWD/$tarball" >/dev/null)
echo "== node --test (beeline-web installed from $(basename "$tarball") in $scratch)"
(cd "$scratch" && node --test --test-reporter=spec node.test.mjs)

# The declarations: a consumer calling every API, type-checked strictly against the installed
# package's index.d.ts (web/test/consumer.ts; never run).
source scripts/lib/web-tools.sh
web_tools_node
cp web/test/consumer.ts "$scratch/"
cat >"$scratch/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "strict": true, "noEmit": true, "target": "ES2022", "module": "ESNext", "moduleResolution": "Bundler",
    "lib": ["ES2022", "DOM", "DOM.Iterable"], "types": [], "noUnusedLocals": true, "exactOptionalPropertyTypes": true
  },
  "files": ["consumer.ts"]
}
JSON
echo "== tsc --strict --noEmit: web/test/consumer.ts against the package's index.d.ts"
(cd "$scratch" && "$OLDPWD/web/tools/node_modules/.bin/tsc" -p tsconfig.json) && echo "types ok"
