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
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
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
  bin="$(out_dir debug)/ipagate"
fi

# 3. The sandbox, seeded as in the issue: App Store 1.2.2 -> build 40; TestFlight 1.2.3 -> 41 and 39;
#    upload 42 still PROCESSING (invisible to /v1/builds, so codemagic cannot see it).
cat >"$work/seed.json" <<'EOF'
{"apps":[{"id":"1234567890","bundleId":"com.example.demo","name":"Demo","sku":"DEMO",
  "builds":[{"id":"b41","version":"41","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID","uploadedDate":"2026-01-02T03:04:05Z","expired":false},
            {"id":"b39","version":"39","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID","uploadedDate":"2026-01-01T03:04:05Z","expired":false}],
  "buildUploads":[{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"42","platform":"IOS","state":"PROCESSING","uploadedDate":"2026-01-03T00:00:00Z"}],
  "appStoreVersions":[{"versionString":"1.2.2","platform":"IOS","appVersionState":"READY_FOR_DISTRIBUTION","build":"40"}],
  "betaGroups":[{"name":"QA","isInternalGroup":true}],
  "betaAppLocalizations":[{"locale":"en-US","feedbackEmail":"beta@example.com"}],
  "betaAppReviewDetail":{"contactFirstName":"Ada","contactLastName":"Lovelace","contactPhone":"+44 20 7946 0000","contactEmail":"ada@example.com"}}]}
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

# 5. codemagic's post-upload TestFlight steps on the processed build b41 (what `publish --testflight` does after
#    altool): What to Test, a beta group, beta review. Checked on the sandbox's state, not on codemagic's output.
run_step() { # name, codemagic args...
  local name="$1" status=0
  shift
  codemagic "$@" --no-color >"$work/step.out" 2>"$work/codemagic.err" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "MISMATCH $name: codemagic exited $status" >&2
    tail -n 20 "$work/codemagic.err" >&2
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}
run_step "builds add-beta-test-info" builds add-beta-test-info b41 --whats-new "Bug fixes" --locale en-US
run_step "beta-groups add-build" beta-groups add-build b41 --beta-group QA
run_step "builds submit-to-testflight" builds submit-to-testflight b41 --max-build-processing-wait 1
if "$python" - "$base" <<'PY'
import json, sys, urllib.request
state = json.load(urllib.request.urlopen(sys.argv[1] + "/_sandbox/state"))
rel = lambda r, name: r.get("relationships", {}).get(name)
notes = [l for l in state.get("betaBuildLocalizations", [])
         if rel(l, "build") == "b41" and l["attributes"].get("whatsNew") == "Bug fixes"]
groups = [g for g in state.get("betaGroups", []) if "b41" in (rel(g, "builds") or [])]
reviews = [s for s in state.get("betaAppReviewSubmissions", []) if rel(s, "build") == "b41"]
problems = [what for what, ok in (("What to Test", notes), ("group QA", groups), ("beta review", reviews)) if not ok]
print("sandbox state after codemagic's TestFlight steps:", "ok" if not problems else "missing " + ", ".join(problems))
sys.exit(1 if problems else 0)
PY
then :; else failures=$((failures + 1)); fi

# 6. What codemagic did.
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
echo "codemagic interop: 3 answers and 3 TestFlight steps passed, 0 failed"
