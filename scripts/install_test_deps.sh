#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine (idempotent):
# Debian packages (openssh, gpg, openssl, git, chromium, faketime), the anvil node from npm,
# and keyanchor itself with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

need_apt=()
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh-keygen >/dev/null || need_apt+=(openssh-client)
command -v gpg >/dev/null || need_apt+=(gnupg)
command -v gpg-wks-client >/dev/null || [ -x /usr/lib/gnupg/gpg-wks-client ] || need_apt+=(gpg-wks-client)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v git >/dev/null || need_apt+=(git)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v npm >/dev/null || need_apt+=(npm)
command -v faketime >/dev/null || need_apt+=(faketime)   # scripts/test_clocks.sh
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v anvil >/dev/null; then
    echo "installing anvil (npm @foundry-rs/anvil)"
    $SUDO npm install -g --silent @foundry-rs/anvil >/dev/null
fi
anvil --version | head -1

python3 -m pip install -q --upgrade pip >/dev/null 2>&1 || true
python3 -m pip install -q -e ".[test,dev]"
