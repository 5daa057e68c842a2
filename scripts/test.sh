#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs the
# whole suite. Real clients are part of the suite: LibreOffice (headless, plus
# its Python-UNO bridge) and Dovecot are installed here when missing, so they
# never get skipped in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)
/usr/bin/python3 -c "import uno" >/dev/null 2>&1 || need+=(python3-uno)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
# A Chinese font, so the tests that measure labels in LibreOffice measure real glyphs.
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing system packages: ${need[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
python3 -m pytest -q -p no:cacheprovider "$@"
