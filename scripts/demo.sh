#!/usr/bin/env bash
# keyanchor's main job on a fresh embedded chain, as a person would do it:
#
#   register example.org, assign alice@example.org, make an SSH key, an OpenPGP
#   key and an X.509 certificate for her, prove possession of each with her own
#   tools (ssh-keygen -Y sign, gpg --detach-sign, openssl), publish them, look
#   them up as authorized_keys, armor and PEM, and show the name's history.
#
#   scripts/demo.sh                      # everything in a new temp directory
#   KEYANCHOR_DEMO_DIR=/tmp/d scripts/demo.sh
#
# Nothing touches your own keyanchor config, chain, keys or gpg keyring: the
# chain file, config, keystores and GNUPGHOME all live in the demo directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
demo="${KEYANCHOR_DEMO_DIR:-$(mktemp -d -t keyanchor-demo.XXXXXX)}"
mkdir -p "$demo"
demo="$(cd "$demo" && pwd)"
if [ -e "$demo/chain.db" ]; then  # a second run would stop half-way at "already registered"
    echo "demo.sh: $demo already holds a demo (chain.db); name a new or empty directory in" \
         "KEYANCHOR_DEMO_DIR (nothing was changed)" >&2
    exit 1
fi

export KEYANCHOR_STATE="$demo/chain.db"
export KEYANCHOR_CONFIG="$demo/config.toml"
export XDG_DATA_HOME="$demo/data"
export GNUPGHOME="$demo/gnupg"
unset KEYANCHOR_NETWORK KEYANCHOR_RPC_URL KEYANCHOR_REGISTRY KEYANCHOR_KEYSTORE \
      KEYANCHOR_PRIVATE_KEY 2>/dev/null || true

if command -v keyanchor >/dev/null 2>&1; then
    ka() { keyanchor "$@"; }
else
    ka() { (cd "$here" && python3 -m cli.main "$@"); }
fi

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }

cleanup() {
    if [ -d "$GNUPGHOME" ]; then
        gpgconf --kill gpg-agent >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

name=alice@example.org
# keyanchor's embedded chain signs with development account 0 by default
owner=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266

step "working in $demo (chain $KEYANCHOR_STATE, config $KEYANCHOR_CONFIG)"

step "register example.org and assign $name"
run ka name register example.org
run ka name assign "$name" --owner "$owner"

# ----------------------------------------------------------------------------- SSH
step "SSH: generate an ed25519 key, prove possession with ssh-keygen -Y sign, publish"
run ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$demo/id_ed25519"
run ka prove "$name" "$demo/id_ed25519.pub" --out "$demo/ssh-statement.txt"
run ssh-keygen -Y sign -n keyanchor -f "$demo/id_ed25519" "$demo/ssh-statement.txt"
run ka key publish "$name" "$demo/id_ed25519.pub" --purpose ssh-user \
    --proof "$demo/ssh-statement.txt.sig" --valid-until +1y

# ----------------------------------------------------------------------------- OpenPGP
step "OpenPGP: generate an ed25519 key with uid $name (temporary GNUPGHOME), sign, publish"
mkdir -p -m 700 "$GNUPGHOME"
gpgq() { gpg --batch --quiet --pinentry-mode loopback --passphrase '' "$@"; }
run gpgq --quick-generate-key "Alice <$name>" ed25519 sign,cert 1y
fpr="$(gpg --batch --with-colons --list-keys "$name" | awk -F: '/^fpr:/ {print $10; exit}')"
run gpgq --quick-add-key "$fpr" cv25519 encr 1y
run gpg --batch --armor --output "$demo/alice.asc" --export "$fpr"
run ka prove "$name" "$demo/alice.asc" --out "$demo/pgp-statement.txt"
run gpgq --yes --detach-sign --local-user "$fpr" --output "$demo/pgp-statement.txt.sig" \
    "$demo/pgp-statement.txt"
run ka key publish "$name" "$demo/alice.asc" --purpose signing,encryption \
    --proof "$demo/pgp-statement.txt.sig"

# ----------------------------------------------------------------------------- X.509
step "X.509: an EC P-256 certificate with SAN email:$name, signed proof with openssl, publish"
run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$demo/alice.key" -out "$demo/alice.pem" -days 365 -subj "/CN=$name" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "subjectAltName=email:$name,DNS:example.org" \
    -addext "keyUsage=critical,digitalSignature" \
    -addext "extendedKeyUsage=clientAuth,emailProtection" 2>/dev/null
run ka prove "$name" "$demo/alice.pem" --out "$demo/x509-statement.txt"
run openssl dgst -sha256 -sign "$demo/alice.key" -out "$demo/x509-statement.txt.sig" \
    "$demo/x509-statement.txt"
run ka key publish "$name" "$demo/alice.pem" --purpose tls-client,signing \
    --proof "$demo/x509-statement.txt.sig"

# ----------------------------------------------------------------------------- lookups
step "look $name up"
run ka lookup "$name"
step "as authorized_keys (checked with ssh-keygen -l)"
run ka lookup "$name" --format authorized-keys | tee "$demo/authorized_keys"
run ssh-keygen -l -f "$demo/authorized_keys"
step "as an armored OpenPGP certificate"
run ka lookup "$name" --format armor
step "as a PEM certificate"
run ka lookup "$name" --format pem
step "the history of $name"
run ka history "$name"

step "done: everything is in $demo"
