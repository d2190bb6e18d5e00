#!/bin/sh
# Installs the extra CA certificates of certs/ for update-ca-certificates, which reads PEM only:
#   install-ca-certificates.sh <from> <to>
# A PEM file (one certificate or a bundle) gives its certificates, and nothing else: a proxy's CA file often holds
# its private key too (mitmproxy-ca.pem), which must not land in the image's world-readable bundle. A DER file
# (Windows exports .cer that way) is converted. Node reads both, and the base image has it. A file that holds no
# certificate stops the build, naming it; two files of the same name but for the extension do too.
set -eu
from="$1"
to="$2"
mkdir -p "$to"
for file in "$from"/*; do
  case "$file" in
    *.[cC][rR][tT] | *.[pP][eE][mM] | *.[cC][eE][rR] | *.[dD][eE][rR]) ;;
    *) continue ;;
  esac
  [ -f "$file" ] || continue
  name="$(basename "$file")"
  target="$to/${name%.*}.crt"
  if [ -e "$target" ]; then
    echo "certs/$name: another file of the same name is installed as ${name%.*}.crt already; rename one." >&2
    exit 1
  fi
  node -e '
    const fs = require("fs"), { X509Certificate } = require("crypto");
    const [source, target] = process.argv.slice(1);
    const bytes = fs.readFileSync(source);
    const text = bytes.toString("latin1");
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
    let certificates;
    try {
      certificates = blocks ? blocks.map(block => new X509Certificate(block)) : [new X509Certificate(bytes)];
    } catch {
      process.exit(1);
    }
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
      console.error(`certs/${source.split("/").pop()}: its private key is left out; only its certificates are trusted.`);
    }
    fs.writeFileSync(target, certificates.map(certificate => certificate.toString()).join(""));
  ' "$file" "$target" || {
    echo "certs/$name is not a PEM or DER certificate; export it as one (.crt, .pem or .cer)." >&2
    exit 1
  }
done
