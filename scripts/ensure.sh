#!/usr/bin/env bash
# Installs what is missing on a fresh Debian machine, then builds:
#   - nats-server and redis-server (Debian packages) when they are not on the PATH
#   - with --browser (npm test): chromium and a font (Debian packages), for the dashboard's browser test, and
#     promtool (Debian's prometheus package), which lints every service's /metrics and the alert rules
#   - with --browser (npm test): kubectl (Debian's kubernetes-client) when none is on the PATH, for test/k8s.e2e-spec.ts
#   - npm packages (npm ci) when node_modules is missing or older than package-lock.json
# Called by `npm start`, `npm test` and .ci/run; cheap when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

missing=()
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium fonts-liberation); fi
if [ "${1:-}" = "--browser" ] && ! command -v promtool >/dev/null 2>&1; then missing+=(prometheus); fi
if [ "${1:-}" = "--browser" ] && ! command -v kubectl >/dev/null 2>&1; then missing+=(kubernetes-client); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure: installing ${missing[*]} with apt-get" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

npm run --silent build
