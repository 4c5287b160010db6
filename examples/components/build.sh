#!/usr/bin/env bash
# Rebuilds every guest component for wasm32-wasip2 and refreshes the committed
# copies in wasm/. Needs `rustup target add wasm32-wasip2`; nothing else in
# the project needs that target, because tests and examples use wasm/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="$here/target"
mkdir -p "$here/wasm"
for crate in "$here"/*/; do
    [ -f "$crate/Cargo.toml" ] || continue
    name="$(basename "$crate")"
    echo "building $name"
    cargo build --quiet --release --target wasm32-wasip2 --manifest-path "$crate/Cargo.toml"
    cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/${name//-/_}.wasm" "$here/wasm/$name.wasm"
done
ls -l "$here/wasm"
