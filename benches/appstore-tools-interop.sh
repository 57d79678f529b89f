#!/usr/bin/env bash
# Interoperability check: appstore-tools (npm), unmodified, uploads a build to `ipagate sandbox` through the Build
# Upload API (its fallback path when there is no xcrun), honouring ASC_BASE_URL (shared/reference/peers.md §3).
#
# Generates a 12 MiB IPA (3 parts), installs appstore-tools into a temporary npm prefix, writes the `plutil` and
# `codesign` stand-ins it needs on Linux, runs `builds upload --apply --wait-processing`, and asserts what the sandbox
# saw: every part PUT accepted (the sandbox checks ranges, headers and the absence of Authorization), the file
# committed with a SHA-256 the sandbox verified against the assembled bytes, and the upload COMPLETE. When the
# package registry cannot be reached it prints "SKIPPED: ..." and exits 0.
#
# Env: IPAGATE_BIN and BIG_IPA_BIN (skip the build), APPSTORE_TOOLS_VERSION (default 1.0.13).
set -euo pipefail
# shellcheck source=benches/sandbox.sh
source "$(dirname "$0")/sandbox.sh"
cd "$(dirname "$0")/.."

version="${APPSTORE_TOOLS_VERSION:-1.0.13}"
work="$(mktemp -d)"
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v npm >/dev/null; then
  echo "SKIPPED: npm is not installed"
  exit 0
fi
if ! timeout 180 npm install --silent --prefix "$work/npm" "appstore-tools@$version" >"$work/npm.log" 2>&1; then
  echo "SKIPPED: appstore-tools@$version could not be installed from the npm registry"
  tail -n 3 "$work/npm.log" || true
  exit 0
fi

if [ -z "${IPAGATE_BIN:-}" ] || [ -z "${BIG_IPA_BIN:-}" ]; then
  cargo build -q -p ipagate --bin ipagate -p ipagate-fixtures --example big_ipa
fi
out="$(out_dir debug)"
bin="${IPAGATE_BIN:-$out/ipagate}"
big_ipa="${BIG_IPA_BIN:-$out/examples/big_ipa}"
"$big_ipa" "$work/App.ipa" 12 43

cat >"$work/seed.json" <<'EOF'
{"apps":[{"id":"1234567890","bundleId":"com.example.demo","name":"Demo","sku":"DEMO",
  "builds":[{"version":"42","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID"}]}]}
EOF
mkdir -p "$work/tmp"
TMPDIR="$work/tmp" start_sandbox "$bin" "$work/seed.json" "$work"

mkdir -p "$work/stubs"
cat >"$work/stubs/plutil" <<'EOF'
#!/usr/bin/env python3
# plutil -convert json -o - FILE
import json, plistlib, sys
with open(sys.argv[-1], "rb") as f:
    value = plistlib.load(f)
json.dump(value, sys.stdout, default=str)
EOF
printf '#!/bin/sh\nexit 0\n' >"$work/stubs/codesign"
chmod +x "$work/stubs/plutil" "$work/stubs/codesign"

echo "== appstore-tools $version builds upload against $base"
if ! PATH="$work/stubs:$PATH" ASC_BASE_URL="$base/" ASC_ISSUER_ID="$issuer" ASC_KEY_ID="$key_id" \
  ASC_PRIVATE_KEY_PATH="$key_path" timeout 300 \
  "$work/npm/node_modules/.bin/appstore-tools" builds upload --ipa "$work/App.ipa" --app com.example.demo \
  --version 1.2.3 --build-number 43 --apply --wait-processing --json >"$work/out.json" 2>"$work/err.txt"; then
  echo "FAILED: appstore-tools exited non-zero"
  tail -n 20 "$work/err.txt"
  curl -s "$base/_sandbox/requests"
  exit 1
fi

python3 - "$base" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
state = json.load(urllib.request.urlopen(base + "/_sandbox/state"))
log = json.load(urllib.request.urlopen(base + "/_sandbox/requests"))
uploads = [u for u in state.get("buildUploads", []) if u["attributes"].get("cfBundleVersion") == "43"]
files = state.get("buildUploadFiles", [])
problems = []
if len(uploads) != 1:
    problems.append(f"expected one build upload for 43, found {len(uploads)}")
elif uploads[0]["attributes"]["state"]["state"] != "COMPLETE":
    problems.append(f"upload state {uploads[0]['attributes']['state']}")
if len(files) != 1:
    problems.append(f"expected one upload file, found {len(files)}")
else:
    f = files[0]["attributes"]
    if f["assetDeliveryState"]["state"] != "COMPLETE":
        problems.append(f"file delivery state {f['assetDeliveryState']}")
    if (f.get("sourceFileChecksums") or {}).get("file", {}).get("algorithm") != "SHA_256":
        problems.append("no SHA-256 checksum was committed (nothing was verified)")
puts = [r for r in log if r["method"] == "PUT" and r["path"].startswith("/upload/")]
if not puts or any(r["status"] != 200 for r in puts):
    problems.append(f"part PUTs: {[(r['path'].split('?')[0], r['status']) for r in puts]}")
for r in log:
    print(f"  {r['method']} {r['path'].split('?')[0]} -> {r['status']}")
if problems:
    print("FAILED: " + "; ".join(problems))
    sys.exit(1)
print(f"OK: appstore-tools uploaded {len(puts)} parts; the sandbox verified the SHA-256 and completed the upload")
PY
