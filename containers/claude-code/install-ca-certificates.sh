#!/bin/sh
# Installs the extra CA certificates of certs/ for update-ca-certificates, which reads PEM only:
#   install-ca-certificates.sh <from> <to>
# A PEM file (one certificate or a bundle) is copied; a DER one (Windows exports .cer that way) is converted.
# Node reads both, and the base image has it. A file that is neither stops the build, naming it.
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
  node -e '
    const fs = require("fs"), { X509Certificate } = require("crypto");
    const [source, target] = process.argv.slice(1);
    const bytes = fs.readFileSync(source);
    const first = new X509Certificate(bytes);
    const pem = bytes.includes("-----BEGIN CERTIFICATE-----");
    // Ends with a line break, as the files are also concatenated into one bundle.
    fs.writeFileSync(target, pem ? Buffer.concat([bytes, Buffer.from(bytes.at(-1) === 10 ? "" : "\n")]) : first.toString());
  ' "$file" "$to/${name%.*}.crt" 2>/dev/null || {
    echo "certs/$name is not a PEM or DER certificate; export it as one (.crt, .pem or .cer)." >&2
    exit 1
  }
done
