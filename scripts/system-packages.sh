#!/usr/bin/env bash
# Installs the Debian packages Bingan needs when run as root; as a normal user, names what is missing.
set -euo pipefail

PACKAGES=(tesseract-ocr tesseract-ocr-chi-sim fonts-noto-cjk ffmpeg chromium nodejs npm)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# npm may come with a Node.js that was not installed from Debian's packages.
if command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "提示: 未找到 apt-get，请手动安装: ${missing[*]} (install these system packages by hand)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "提示: 缺少系统软件包: ${missing[*]}"
  echo "      请以 root 运行: apt-get install -y ${missing[*]}"
  echo "      (missing system packages; OCR fallback, video and browser tests need them)"
  exit 0
fi
echo "安装系统软件包: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
