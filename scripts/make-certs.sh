#!/bin/sh
# Makes a private CA and one certificate per component for Thanos's TLS flags (gRPC and HTTP),
# with openssl. Each certificate is good for both ends (serverAuth + clientAuth), so one pair
# serves --grpc-server-tls-cert/-key and --grpc-client-tls-cert/-key of the same component.
#
#   scripts/make-certs.sh OUT_DIR [NAME[=SAN,...]]...
#
#   OUT_DIR/ca.crt, ca.key        the CA (made once; kept when it exists, so later runs add or renew
#                                 certificates under the same CA). Give ca.crt to
#                                 --grpc-server-tls-client-ca and --grpc-client-tls-ca.
#   OUT_DIR/NAME.crt, NAME.key    a certificate for NAME, re-issued on every run. SANs: the ones given
#                                 after "=" (e.g. store=DNS:store.monitoring.svc,IP:10.0.0.5), else
#                                 DNS:NAME, DNS:localhost, IP:127.0.0.1, IP:::1.
#   No NAME: store sidecar query receive rule.
#
# Environment: CERT_DAYS (validity, default 365), CA_CN (the CA's common name).
# Keys are ECDSA P-256, written with mode 0600.
set -eu

out=${1:?usage: make-certs.sh OUT_DIR [NAME[=SAN,...]]...}
shift
days=${CERT_DAYS:-365}
umask 077
mkdir -p "$out"

if [ ! -f "$out/ca.crt" ] || [ ! -f "$out/ca.key" ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$out/ca.key" -out "$out/ca.crt" -days "$days" -subj "/CN=${CA_CN:-thanos private CA}" \
    -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
fi

[ $# -gt 0 ] || set -- store sidecar query receive rule

for spec in "$@"; do
  name=${spec%%=*}
  case "$name" in
    ''|*/*|.*) echo "make-certs.sh: invalid name \"$name\"" >&2; exit 2 ;;
  esac
  if [ "$spec" = "$name" ]; then sans="DNS:$name,DNS:localhost,IP:127.0.0.1,IP:::1"; else sans=${spec#*=}; fi
  ext="$out/.$name.ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$sans" >"$ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$out/$name.key" -out "$out/.$name.csr" -subj "/CN=$name" 2>/dev/null
  # A random serial per certificate (no ca.srl to share between concurrent runs).
  openssl x509 -req -in "$out/.$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -out "$out/$name.crt.tmp" -days "$days" -extfile "$ext" 2>/dev/null
  # Renamed into place: a server watching the file never reads half a certificate.
  mv "$out/$name.crt.tmp" "$out/$name.crt"
  rm -f "$ext" "$out/.$name.csr"
done
