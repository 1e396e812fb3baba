#!/usr/bin/env bash
# A single-node OpenStack Swift ("Swift all in one") on loopback, speaking both the Swift API
# (tempauth, v1 auth) and the S3 API (s3api middleware). Used by the objstore S3 and SWIFT tests.
#
# Needs the Debian packages:
#   swift swift-proxy swift-object swift-account swift-container python3-swiftclient memcached
# and a memcached reachable at MEMCACHE (tempauth keeps its tokens there; /auth/v1.0 is 503 without it).
#
# Usage:
#   scripts/swift-saio.sh BASE PROXY_PORT OBJECT_PORT CONTAINER_PORT ACCOUNT_PORT MEMCACHE [--configure-only]
#     BASE      a scratch directory (emptied first)
#     MEMCACHE  host:port, e.g. 127.0.0.1:11211
#   Without --configure-only it starts the four servers in the background, writes BASE/pids/*.pid
#   and waits for /healthcheck. Stop them with: kill $(cat BASE/pids/*.pid)
#   With --configure-only it only writes rings and configs; the caller starts
#     swift-{object,container,account}-server BASE/etc/<kind>-server.conf -v
#     swift-proxy-server BASE/etc/proxy-server.conf -v
#   itself (test/harness/swift.ts does this so that it owns the pids).
#
# Endpoints (all 127.0.0.1):
#   Swift: auth http://127.0.0.1:PROXY_PORT/auth/v1.0, user test:tester, key testing
#          -> storage URL http://127.0.0.1:PROXY_PORT/v1/AUTH_test
#   S3:    http://127.0.0.1:PROXY_PORT, path-style, region us-east-1, access key test:tester, secret testing
set -euo pipefail

if [ $# -lt 6 ]; then
  sed -n '2,24p' "$0" >&2
  exit 2
fi
BASE=$1; PROXY_PORT=$2; OBJECT_PORT=$3; CONTAINER_PORT=$4; ACCOUNT_PORT=$5; MEMCACHE=$6; MODE=${7:-}

for bin in swift-ring-builder swift-proxy-server swift-object-server swift-container-server swift-account-server; do
  command -v "$bin" >/dev/null || { echo "swift-saio: $bin not found; apt-get install -y swift swift-proxy swift-object swift-account swift-container" >&2; exit 1; }
done
[ -f /etc/swift/swift.conf ] || { echo "swift-saio: /etc/swift/swift.conf missing (it comes with the Debian swift package)" >&2; exit 1; }

mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd)
rm -rf "${BASE:?}/etc" "$BASE/node" "$BASE/run" "$BASE/pids"
mkdir -p "$BASE/etc" "$BASE/node/d1" "$BASE/run" "$BASE/pids"
RUN_AS=$(id -un)

# Rings: one replica, one device, 2^8 partitions. Built in one Python process with Swift's own
# RingBuilder (the interpreter swift-ring-builder runs under): one start-up instead of nine
# swift-ring-builder calls, which is most of the set-up time on a busy machine.
SWIFT_PY=$(head -1 "$(command -v swift-ring-builder)" | sed 's/^#! *//; s/ .*$//')
"$SWIFT_PY" - "$BASE/etc" "$OBJECT_PORT" "$CONTAINER_PORT" "$ACCOUNT_PORT" <<'PYEOF'
import sys
from swift.common.ring import RingBuilder
etc, ports = sys.argv[1], dict(zip(('object', 'container', 'account'), map(int, sys.argv[2:5])))
for kind, port in ports.items():
    b = RingBuilder(8, 1, 1)
    b.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port, 'replication_ip': '127.0.0.1',
               'replication_port': port, 'device': 'd1', 'weight': 100.0, 'meta': ''})
    b.rebalance()
    b.get_ring().save('%s/%s.ring.gz' % (etc, kind))
    b.save('%s/%s.builder' % (etc, kind))
PYEOF
for kind in object container account; do
  [ -f "$BASE/etc/$kind.ring.gz" ] || { echo "swift-saio: ring $kind was not built" >&2; exit 1; }
done

backend_conf() { # kind port
  cat > "$BASE/etc/$1-server.conf" <<EOF
[DEFAULT]
devices = $BASE/node
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
user = $RUN_AS
swift_dir = $BASE/etc
log_address = /nonexistent
log_level = WARNING

[pipeline:main]
pipeline = $1-server

[app:$1-server]
use = egg:swift#$1
EOF
}
backend_conf object "$OBJECT_PORT"
backend_conf container "$CONTAINER_PORT"
backend_conf account "$ACCOUNT_PORT"

cat > "$BASE/etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PROXY_PORT
workers = 0
user = $RUN_AS
swift_dir = $BASE/etc
log_address = /nonexistent
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true
# Backends may come up after the proxy on a busy machine: don't let the start-up errors
# error-limit the only node of each ring for a minute.
error_suppression_interval = 5
error_suppression_limit = 1000

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:cache]
use = egg:swift#memcache
memcache_servers = $MEMCACHE

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
EOF

if [ "$MODE" = "--configure-only" ]; then
  echo "swift-saio: configured in $BASE"
  exit 0
fi

for kind in object container account; do
  nohup "swift-$kind-server" "$BASE/etc/$kind-server.conf" -v >"$BASE/run/$kind.log" 2>&1 &
  echo $! >"$BASE/pids/$kind.pid"
done
nohup swift-proxy-server "$BASE/etc/proxy-server.conf" -v >"$BASE/run/proxy.log" 2>&1 &
echo $! >"$BASE/pids/proxy.pid"

for _ in $(seq 1 200); do
  if curl -sf "http://127.0.0.1:$PROXY_PORT/healthcheck" >/dev/null 2>&1; then
    echo "swift-saio: up on 127.0.0.1:$PROXY_PORT (pids in $BASE/pids)"
    exit 0
  fi
  sleep 0.1
done
echo "swift-saio: did not come up; see $BASE/run/*.log" >&2
exit 1
