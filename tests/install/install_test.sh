#!/usr/bin/env bash
# Installs squall from BUILD_DIR into a temporary prefix, then builds and runs a consumer with
# find_package(squall) and with pkg-config.
set -euo pipefail
build_dir=$1
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null

cmake -S "$source_dir/consumer" -B "$work/cmake-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
"$work/cmake-build/consumer"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
# shellcheck disable=SC2046
c++ -O1 $(pkg-config --cflags squall) "$source_dir/consumer/main.cpp" -o "$work/pkg-consumer" \
  $(pkg-config --libs squall)
"$work/pkg-consumer"
echo "install test: find_package and pkg-config consumers built and ran"
