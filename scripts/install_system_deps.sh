#!/usr/bin/env bash
# Debian packages the demo corpus is built from (and the tests learn from):
# fluidsynth + the FluidR3 GM soundfont render the piano and guitar scores,
# wesnoth-1.16-music and warzone2100-music supply the classical and ambient recordings;
# chromium opens the listening report in the browser test (driven by Python playwright);
# g++ compiles the fast generation step (wavenet_music/kernels) on first use.
# Given package names, it installs those instead (the Makefile asks for python3-venv where
# Debian's python3 lacks ensurepip, before it creates .venv).
set -euo pipefail
packages=(fluidsynth fluid-soundfont-gm wesnoth-1.16-music warzone2100-music chromium g++)
[ $# -gt 0 ] && packages=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "missing Debian packages: ${missing[*]}; run: apt-get install ${missing[*]}" >&2; exit 1
fi
echo "installing ${missing[*]} with apt-get" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
