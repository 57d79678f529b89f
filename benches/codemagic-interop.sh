#!/usr/bin/env bash
# Interoperability check: codemagic-cli-tools, unmodified, against `ipagate sandbox`.
#
# Installs codemagic-cli-tools with pip into a temporary venv, starts `ipagate sandbox --generate-key`
# with the issue's seed, and runs `app-store-connect get-latest-build-number APP --include-version --json`
# (and two sibling commands) with codemagic's API_URL class attribute pointed at the sandbox, as in
# shared/reference/peers.md §3. codemagic signs its own ES256 JWTs, so this also checks that the sandbox
# accepts a third party's tokens. Asserts each answer equals what the seed implies, prints the sandbox's
# request log, and exits 1 on a mismatch. When the package registry cannot be reached it prints
# "SKIPPED: ..." and exits 0 (so CI without network stays green).
#
# Env: IPAGATE_BIN (use this binary instead of `cargo build --bin ipagate`), CODEMAGIC_VENV (reuse an existing
# venv that has codemagic-cli-tools), PYTHON (default python3).
set -euo pipefail
# shellcheck source=benches/sandbox.sh
source "$(dirname "$0")/sandbox.sh"
cd "$(dirname "$0")/.."

started=$(date +%s)
python="${PYTHON:-python3}"
work="$(mktemp -d)"
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then
    kill "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. codemagic-cli-tools in a venv.
if [ -n "${CODEMAGIC_VENV:-}" ] && [ -x "$CODEMAGIC_VENV/bin/python" ]; then
  venv="$CODEMAGIC_VENV"
else
  venv="$work/venv"
  if ! "$python" -m venv "$venv" >"$work/venv.log" 2>&1; then
    echo "SKIPPED: cannot create a Python venv ($python -m venv failed)"
    tail -n 3 "$work/venv.log" || true
    exit 0
  fi
  echo "== pip install codemagic-cli-tools" >&2
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check codemagic-cli-tools >"$work/pip.log" 2>&1; then
    echo "SKIPPED: cannot install codemagic-cli-tools from the package registry (unreachable?)"
    tail -n 3 "$work/pip.log" || true
    exit 0
  fi
fi
codemagic_version=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("codemagic-cli-tools"))')
echo "codemagic-cli-tools $codemagic_version"

# 2. ipagate.
if [ -n "${IPAGATE_BIN:-}" ]; then
  bin="$IPAGATE_BIN"
else
  echo "== cargo build --bin ipagate" >&2
  cargo build --bin ipagate -q
  bin="$PWD/target/debug/ipagate"
fi

# 3. The sandbox, seeded as in the issue: App Store 1.2.2 -> build 40; TestFlight 1.2.3 -> 41 and 39;
#    upload 42 still PROCESSING (invisible to /v1/builds, so codemagic cannot see it).
cat >"$work/seed.json" <<'EOF'
{"apps":[{"id":"1234567890","bundleId":"com.example.demo","name":"Demo","sku":"DEMO",
  "builds":[{"id":"b41","version":"41","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID","uploadedDate":"2026-01-02T03:04:05Z","expired":false},
            {"id":"b39","version":"39","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID","uploadedDate":"2026-01-01T03:04:05Z","expired":false}],
  "buildUploads":[{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"42","platform":"IOS","state":"PROCESSING","uploadedDate":"2026-01-03T00:00:00Z"}],
  "appStoreVersions":[{"versionString":"1.2.2","platform":"IOS","appVersionState":"READY_FOR_DISTRIBUTION","build":"40"}],
  "betaGroups":[{"name":"QA","isInternalGroup":true}]}]}
EOF
start_sandbox "$bin" "$work/seed.json" "$work"

export APP_STORE_CONNECT_ISSUER_ID="$issuer"
export APP_STORE_CONNECT_KEY_IDENTIFIER="$key_id"
export APP_STORE_CONNECT_PRIVATE_KEY="@file:$key_path"
export TMPDIR="$work" # codemagic caches JWTs and dumps failed requests under the temp dir

# 4. codemagic, API_URL patched (peers.md §3); prints stdout, logs to stderr.
codemagic() {
  "$venv/bin/python" - "$base/v1" "$@" <<'PY'
import sys
from codemagic.apple.app_store_connect.api_client import AppStoreConnectApiClient
AppStoreConnectApiClient.API_URL = sys.argv[1]
from codemagic.tools import AppStoreConnect
sys.argv = ["app-store-connect", *sys.argv[2:]]
sys.exit(AppStoreConnect.invoke_cli())
PY
}

failures=0
check() { # name, expected JSON, codemagic args...
  local name="$1" expected="$2"
  shift 2
  local got status=0
  got=$(codemagic "$@" --no-color 2>"$work/codemagic.err") || status=$?
  if [ "$status" -ne 0 ]; then
    echo "MISMATCH $name: codemagic exited $status" >&2
    tail -n 20 "$work/codemagic.err" >&2
    failures=$((failures + 1))
    return
  fi
  if "$python" -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1]) == json.loads(sys.argv[2]) else 1)' "$got" "$expected"; then
    echo "ok   $name: $got"
  else
    echo "MISMATCH $name: got $got, expected $expected" >&2
    tail -n 20 "$work/codemagic.err" >&2
    failures=$((failures + 1))
  fi
}

check "get-latest-build-number --include-version" \
  '{"buildId": "b41", "version": "1.2.3", "buildNumber": "41"}' \
  get-latest-build-number 1234567890 --include-version --json
check "get-latest-build-number --all-versions" '"41"' \
  get-latest-build-number 1234567890 --all-versions --json
check "get-latest-app-store-build-number" '"40"' \
  get-latest-app-store-build-number 1234567890 --json

# 5. What codemagic did.
echo "== sandbox request log"
"$python" - "$base" <<'PY'
import json, sys, urllib.request
for r in json.load(urllib.request.urlopen(sys.argv[1] + "/_sandbox/requests")):
    note = f"  ({r['note']})" if r.get("note") else ""
    print(f"{r['status']} {r['method']} {r['path']}{note}")
PY

echo "took $(($(date +%s) - started)) s"
if [ "$failures" -ne 0 ]; then
  echo "FAILED: $failures codemagic answer(s) differ from the seed" >&2
  exit 1
fi
echo "codemagic interop: 3 passed, 0 failed"
