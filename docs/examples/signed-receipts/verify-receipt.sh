#!/bin/sh
# Verify a signed receipt from ak-bridge (guide section 3.1) with xmlsec1 alone.
#   verify-receipt.sh RECEIPT_BASE64_FILE BRIDGE_CERT_PEM
# RECEIPT_BASE64_FILE: the receipt's "signedReceipt" (REST) or SignedReceipt / SgnRcpt (SOAP)
# text; BRIDGE_CERT_PEM: the bridge's certificate, from its operator. Exit 0: it verifies.
set -eu
receipt=$(mktemp)
trap 'rm -f "$receipt"' EXIT
tr -d ' \t\r\n' < "$1" | base64 -d > "$receipt"
xmlsec1 --verify --enabled-key-data rsa,ecdsa,key-name --pubkey-cert-pem "$2" "$receipt"
