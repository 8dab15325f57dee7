#!/usr/bin/env bash
# Makes a throw-away PKI with openssl for TLS tests and demos (nothing secret is committed):
#   scripts/certs.sh DIR [IP ...]
# DIR/ca.pem, ca-key.pem            the cluster CA
# DIR/server-cert.pem, server-key.pem   serverAuth+clientAuth, SANs: 127.0.0.1, localhost and each IP
# DIR/client-cert.pem, client-key.pem   clientAuth (the docker CLI's cert.pem/key.pem)
# DIR/other-ca.pem, other-client-cert.pem, other-client-key.pem   a second CA and a client it signed
# DIR/other-server-cert.pem, other-server-key.pem   a server cert (same SANs) the second CA signed
# DIR/docker/{ca,cert,key}.pem     the client set laid out for DOCKER_CERT_PATH
set -euo pipefail
dir=${1:?usage: scripts/certs.sh DIR [IP ...]}
shift
mkdir -p "$dir/docker"
cd "$dir"
sans="IP:127.0.0.1,DNS:localhost"
for ip in "$@"; do sans+=",IP:$ip"; done

ca() { # name
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$1-key.pem" -out "$1.pem" 2>/dev/null
}
cert() { # ca name usage san
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$2-key.pem" -out "$2.csr" 2>/dev/null
  printf 'extendedKeyUsage=%s\n%s' "$3" "${4:+subjectAltName=$4}" >"$2.ext"
  openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1-key.pem" -CAcreateserial -days 2 -extfile "$2.ext" -out "$2-cert.pem" 2>/dev/null
  rm -f "$2.csr" "$2.ext"
}

ca ca
cert ca server serverAuth,clientAuth "$sans"
cert ca client clientAuth ""
ca other-ca
cert other-ca other-client clientAuth ""
cert other-ca other-server serverAuth,clientAuth "$sans"
cp ca.pem docker/ca.pem
cp client-cert.pem docker/cert.pem
cp client-key.pem docker/key.pem
chmod 600 ./*-key.pem docker/key.pem
