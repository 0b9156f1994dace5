#!/usr/bin/env bash
# Installs the Debian packages Stele needs, only if some are missing (quiet when all are there).
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config liburing-dev libabsl-dev libfmt-dev zlib1g-dev
      libprotobuf-dev protobuf-compiler libgtest-dev libgmock-dev libbenchmark-dev fio python3
      libasio-dev nlohmann-json3-dev valgrind clang-14 libclang-rt-14-dev libgrpc++-dev
      protobuf-compiler-grpc lld python3-dev pybind11-dev python3-pytest curl prometheus)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the interop tests with real RocketMQ clients from the npm registry. Any
# Node.js >= 18 will do (Debian 12's, or one from NodeSource already on the machine).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
