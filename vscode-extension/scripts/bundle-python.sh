#!/usr/bin/env bash
# Puts the Replay Lens server and its Python dependencies into bundled/libs, so that the .vsix
# runs with nothing pip-installed (like Microsoft's Python tool extensions). The compiled
# dependencies (pydantic-core, msgpack, zstandard, watchfiles, websockets) are specific to a
# platform and a CPython minor version: one folder per version, bundled/libs/cp311, cp312, cp313,
# each installed with `pip install -t` for the vsce target's platform. The server itself is the
# repository's package, built once as a wheel.
#   scripts/bundle-python.sh [TARGET]      TARGET: linux-x64 (default), linux-arm64, darwin-x64,
#                                          darwin-arm64, win32-x64, alpine-x64
#   PYTHON (default: python3) runs pip; PYTHON_VERSIONS (default: "3.11 3.12 3.13").
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore

TARGET=${1:-linux-x64}
PYTHON=${PYTHON:-python3}
PYTHON_VERSIONS=${PYTHON_VERSIONS:-3.11 3.12 3.13}
HERE=$(cd "$(dirname "$0")/.." && pwd)
REPO=$(cd "$HERE/.." && pwd)
OUT=$HERE/bundled/libs

case "$TARGET" in
  linux-x64) PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64) ;;
  linux-arm64) PLATFORMS=(manylinux_2_28_aarch64 manylinux_2_17_aarch64 manylinux2014_aarch64) ;;
  alpine-x64) PLATFORMS=(musllinux_1_2_x86_64 musllinux_1_1_x86_64) ;;
  darwin-x64) PLATFORMS=(macosx_10_12_x86_64 macosx_10_9_x86_64) ;;
  darwin-arm64) PLATFORMS=(macosx_11_0_arm64) ;;
  win32-x64) PLATFORMS=(win_amd64) ;;
  *) echo "bundle-python: unknown target $TARGET" >&2; exit 2 ;;
esac
platform_args=()
for p in "${PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheel" "$REPO" 2> >(grep -v '^WARNING: Location' >&2 || true)

rm -rf "$OUT"
for version in $PYTHON_VERSIONS; do
  dir=$OUT/cp${version/./}
  echo "bundle-python: $TARGET, CPython $version -> ${dir#"$HERE"/}" >&2
  "$PYTHON" -m pip install --quiet --no-compile --disable-pip-version-check \
    --no-warn-conflicts --target "$dir" --implementation cp --python-version "$version" --only-binary=:all: \
    "${platform_args[@]}" "$work"/wheel/*.whl 2> >(grep -v '^WARNING: Location' >&2 || true)
  rm -rf "$dir/bin"
  # Compiled at bundle time where this CPython is here (hash-checked: a .vsix keeps no exact mtimes), so the
  # server starts without compiling every module, also under PYTHONDONTWRITEBYTECODE or a read-only folder.
  if "python$version" -c '' >/dev/null 2>&1; then  # a runnable one (a pyenv shim may not be)
    "python$version" -m compileall -q -j 0 --invalidation-mode checked-hash "$dir" >/dev/null
  fi
done
echo "$TARGET" > "$OUT/TARGET"
