#!/usr/bin/env bash
# Loads demo data into the embedded store: starts a gateway on ./pulse.db
# (or $PULSE_DATA), posts 30 days of generated events for 2,000 users in 8
# tenants, and stops the gateway. Afterwards try:
#   ./pulse query active --tenant acme
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly DATA="${PULSE_DATA:-pulse.db}"
readonly PORT="${PULSE_DEMO_PORT:-18099}"
[[ -x ./pulse ]] || go build -o pulse .

./pulse ingest --data "$DATA" --listen "127.0.0.1:$PORT" --ip-rate 0 --tenant-rate 0 &
gw=$!
trap 'kill -TERM $gw 2>/dev/null; wait $gw 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
./pulse gen --target "http://127.0.0.1:$PORT" --days 30 --users 2000 --tenants 8 --batch 500 --concurrency 4
