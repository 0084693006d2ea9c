#!/bin/sh
# Enrols the three members of the example federation (docker-compose.yml), once: a data
# directory with a node key for each, one roster naming all three, one pre-shared network key,
# and each member's config.yaml in its data directory (which `dragnet start --data DIR` reads).
# Run again, it keeps the identities and rewrites roster and configs.
#
# Environment (the defaults are the container's; the test suite runs this same script on
# loopback with its own):
#   FED       where the data directories go              /var/lib/dragnet (the image's volume)
#   DRAGNET   the dragnet command                        dragnet
#   POLICIES  the example policies                       /opt/dragnet/config/policies
#   HOST_BKA, HOST_ANSSI, HOST_ACME   DNS names the members dial each other at (the service names)
#   API_HOST  the interface the APIs listen on           0.0.0.0
set -eu

FED=${FED:-/var/lib/dragnet}
DRAGNET=${DRAGNET:-dragnet}
POLICIES=${POLICIES:-/opt/dragnet/config/policies}
API_HOST=${API_HOST:-0.0.0.0}

mkdir -p "$FED"
chmod 0700 "$FED"
roster="$FED/roster.yaml"
: > "$roster.tmp"

# member DIR NAME COUNTRY ROLE HOST P2P_PORT API_PORT POLICY
member () {
  dir="$FED/$1"
  if [ ! -f "$dir/node.key" ]; then
    $DRAGNET init --data "$dir" --name "$2" --country "$3" --role "$4" > /dev/null
  fi
  peer=$(node -p "require(process.argv[1]).peerId" "$dir/node.json")
  echo "- { peerId: $peer, name: $2, country: $3, role: $4, addrs: [/dns4/$5/tcp/$6] }" >> "$roster.tmp"
  {
    echo "# written by enroll.sh"
    echo "listen: [/ip4/0.0.0.0/tcp/$6]"
    echo "api: $API_HOST:$7"
    echo "roster: ../roster.yaml"
    echo "psk: ../swarm.key"
    if [ -n "$8" ]; then echo "policy: $POLICIES/$8"; else echo "policy: null"; fi
    echo "http: { hosts: [$5] }"
    echo "sync: { intervalMs: 30000 }"
  } > "$dir/config.yaml"
  chmod 0600 "$dir/config.yaml"
}

member bka   BKA   DE bureau      "${HOST_BKA:-bka}"     47401 47411 eu-bureau.yaml
member anssi ANSSI FR bureau      "${HOST_ANSSI:-anssi}" 47402 47412 strict-bureau.yaml
member acme  ACME  US contributor "${HOST_ACME:-acme}"   47403 47413 ""

mv "$roster.tmp" "$roster"
chmod 0600 "$roster"
if [ ! -f "$FED/swarm.key" ]; then
  $DRAGNET psk "$FED/swarm.key" > /dev/null
fi
echo "enrolled: bka anssi acme in $FED"
