#!/usr/bin/env bash
# Start-to-answer time of `ipagate build-number latest` against codemagic-cli-tools'
# `app-store-connect get-latest-build-number`, both against the same `ipagate sandbox`, in one run.
# Prints both answers, requests per answer, the mean times and the ratio (target: ipagate >= 5x faster).
#
# The seed is the issue's: build 41 (processed, 1.2.3), build 40 (App Store 1.2.2) and upload 42 still
# PROCESSING. ipagate answers 42 (it reads buildUploads); codemagic answers 41 (builds still processing are
# invisible to it) — the difference is the point of the bumper, not a measurement error.
#
# codemagic-cli-tools is installed with pip into a temporary venv; when the registry cannot be reached the
# comparison prints SKIPPED and exits 0. Uses hyperfine when installed (apt-get install hyperfine), else a loop
# timed with `date +%s%N`. Env: IPAGATE_BIN (skip the build), RUNS (default 10).
set -euo pipefail
# shellcheck source=benches/sandbox.sh
source "$(dirname "$0")/sandbox.sh"
cd "$(dirname "$0")/.."

runs="${RUNS:-10}"
work="$(mktemp -d)"
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${IPAGATE_BIN:-}" ]; then
  bin="$IPAGATE_BIN"
else
  echo "== building ipagate (release)" >&2
  cargo build --release --bin ipagate -q
  bin="$(out_dir release)/ipagate"
fi

cat >"$work/seed.json" <<'EOF'
{"apps":[{"id":"1234567890","bundleId":"com.example.demo","name":"Demo","sku":"DEMO",
  "builds":[{"version":"41","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID","uploadedDate":"2026-01-02T03:04:05Z","expired":false},
            {"version":"39","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID","uploadedDate":"2026-01-01T03:04:05Z","expired":false}],
  "buildUploads":[{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"42","platform":"IOS","state":"PROCESSING","uploadedDate":"2026-01-03T00:00:00Z"}],
  "appStoreVersions":[{"versionString":"1.2.2","platform":"IOS","appVersionState":"READY_FOR_DISTRIBUTION","build":"40"}],
  "betaGroups":[{"name":"QA","isInternalGroup":true}]}]}
EOF

start_sandbox "$bin" "$work/seed.json" "$work"

export ASC_BASE_URL="$base"
export APP_STORE_CONNECT_ISSUER_ID="$issuer"
export APP_STORE_CONNECT_KEY_IDENTIFIER="$key_id"
export APP_STORE_CONNECT_PRIVATE_KEY="@file:$key_path"

requests_of() { # run a command once on a cleared request log and print how many requests it made
  curl_like=$(python3 - "$base" "$@" <<'PY'
import json, subprocess, sys, urllib.request
base = sys.argv[1]
urllib.request.urlopen(urllib.request.Request(base + "/_sandbox/requests", method="DELETE")).read()
subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
log = json.load(urllib.request.urlopen(base + "/_sandbox/requests"))
if isinstance(log, dict):
    log = log.get("requests", [])
print(len(log))
PY
  )
  echo "$curl_like"
}

ipagate_cmd=("$bin" build-number latest --bundle-id com.example.demo)
ipagate_answer="$("${ipagate_cmd[@]}")"
ipagate_requests="$(requests_of "${ipagate_cmd[@]}")"
echo "ipagate  answer: $ipagate_answer ($ipagate_requests requests: app lookup, buildUploads, builds)"

mean_ms() { # mean wall time of a command in ms over $runs runs (after one warm-up)
  if command -v hyperfine >/dev/null 2>&1; then
    local cmd
    printf -v cmd '%q ' "$@"
    hyperfine --warmup 1 --runs "$runs" --style none --export-json "$work/h.json" "$cmd" >/dev/null 2>&1
    python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["mean"]*1000))' "$work/h.json"
  else
    "$@" >/dev/null 2>&1 || true
    local start end
    start=$(date +%s%N)
    for _ in $(seq 1 "$runs"); do "$@" >/dev/null 2>&1 || true; done
    end=$(date +%s%N)
    python3 -c "print('%.1f' % (($end - $start) / 1e6 / $runs))"
  fi
}

ipagate_ms="$(mean_ms "${ipagate_cmd[@]}")"
echo "ipagate  mean:   ${ipagate_ms} ms over $runs runs ($(command -v hyperfine >/dev/null && echo hyperfine || echo date loop))"

echo "== installing codemagic-cli-tools into a temporary venv" >&2
if ! python3 -m venv "$work/venv" >/dev/null 2>&1 ||
  ! timeout 300 "$work/venv/bin/pip" install -q --disable-pip-version-check codemagic-cli-tools >"$work/pip.log" 2>&1; then
  tail -n 3 "$work/pip.log" 2>/dev/null >&2 || true
  echo "SKIPPED: codemagic-cli-tools could not be installed (package registry unreachable?)"
  exit 0
fi

# codemagic has no flag for the API host: patch the class attribute before the CLI runs (peers.md §3).
cat >"$work/run_peer.py" <<EOF
import sys
from codemagic.apple.app_store_connect.api_client import AppStoreConnectApiClient as C
C.API_URL = "$base/v1"
from codemagic.tools import AppStoreConnect
sys.argv = ["app-store-connect", "get-latest-build-number", "1234567890"]
sys.exit(AppStoreConnect.invoke_cli())
EOF
codemagic_cmd=("$work/venv/bin/python" "$work/run_peer.py")
if ! codemagic_answer="$("${codemagic_cmd[@]}" 2>"$work/codemagic.err" | tail -n 1)" || [ -z "$codemagic_answer" ]; then
  echo "codemagic-cli-tools failed against the sandbox:" >&2
  tail -n 20 "$work/codemagic.err" >&2
  exit 1
fi
codemagic_requests="$(requests_of "${codemagic_cmd[@]}")"
echo "codemagic answer: $codemagic_answer ($codemagic_requests requests; cannot see the upload still processing)"
codemagic_ms="$(mean_ms "${codemagic_cmd[@]}")"
echo "codemagic mean:   ${codemagic_ms} ms over $runs runs"

python3 - "$ipagate_ms" "$codemagic_ms" <<'PY'
import sys
ipagate, codemagic = float(sys.argv[1]), float(sys.argv[2])
ratio = codemagic / ipagate if ipagate > 0 else float("inf")
verdict = "meets" if ratio >= 5 else "MISSES"
print(f"ratio: ipagate is {ratio:.1f}x faster than codemagic-cli-tools ({verdict} the 5x target)")
PY
