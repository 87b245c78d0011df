#!/usr/bin/env bash
# Scrapes /metrics after known traffic (the integration test "metrics: known traffic is counted
# in the scrape" writes its scrape to a file) and runs `promtool check metrics` on it: the
# exposition format and Prometheus' naming conventions, as Prometheus itself checks them.
#
# promtool comes with the Debian package `prometheus`. Without it this test fails; outside CI it
# can be skipped explicitly with ZGATE_ALLOW_NO_PROMTOOL=1 (exit 77: reported as skipped).
set -euo pipefail
integration_bin="$1"
if ! command -v promtool >/dev/null 2>&1; then
  if [ "${ZGATE_ALLOW_NO_PROMTOOL:-}" = "1" ] && [ -z "${CI:-}" ]; then
    echo "promtool not found: skipped (ZGATE_ALLOW_NO_PROMTOOL=1); apt-get install prometheus to run it"
    exit 77
  fi
  echo "promtool not found: apt-get install prometheus (or set ZGATE_ALLOW_NO_PROMTOOL=1 outside CI to skip)" >&2
  exit 1
fi
dump="$(mktemp)"
trap 'rm -f "$dump"' EXIT
ZGATE_METRICS_DUMP="$dump" "$integration_bin" "metrics: known traffic is counted in the scrape" >/dev/null
if [ ! -s "$dump" ]; then
  echo "the integration test wrote no scrape" >&2
  exit 1
fi
echo "$(grep -c '^# TYPE' "$dump") metric families scraped; promtool check metrics:"
promtool check metrics < "$dump"
echo "promtool: no problems"
