#!/usr/bin/env bash
# Upload throughput on loopback, in one run against one `ipagate sandbox`:
#   1. a raw parallel `curl` of the part ranges (dd | curl --data-binary, CONCURRENCY at a time): the loopback limit;
#   2. `ipagate upload` (hash, create, parts, commit, wait for processing), under /usr/bin/time -v for its peak RSS;
#   3. appstore-tools (npm, `ASC_BASE_URL`, its Build Upload API fallback path) uploading the same-size IPA.
# Prints seconds, MiB/s, the ratios (targets: ipagate >= 70% of raw curl, >= 5x appstore-tools) and ipagate's peak
# RSS (target <= 64 MB whatever the size).
#
# Env: SIZE_MIB (default 1024), CONCURRENCY (default 4), IPAGATE_BIN / BIG_IPA_BIN / PART_OPS_BIN (skip the release
# build), SKIP_APPSTORE_TOOLS=1. appstore-tools is installed with npm into a temporary prefix; when the registry cannot
# be reached its row prints SKIPPED. On Linux it needs stand-ins for `plutil` and `codesign`, written here.
set -euo pipefail
# shellcheck source=benches/sandbox.sh
source "$(dirname "$0")/sandbox.sh"
cd "$(dirname "$0")/.."

size_mib="${SIZE_MIB:-1024}"
concurrency="${CONCURRENCY:-4}"
work="$(mktemp -d)"
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${IPAGATE_BIN:-}" ] || [ -z "${BIG_IPA_BIN:-}" ] || [ -z "${PART_OPS_BIN:-}" ]; then
  echo "== building ipagate and the bench helpers (release)" >&2
  cargo build --release -q -p ipagate --bin ipagate -p ipagate-fixtures --example big_ipa \
    -p ipagate-uploader --example part_ops
fi
out="$(out_dir release)"
bin="${IPAGATE_BIN:-$out/ipagate}"
big_ipa="${BIG_IPA_BIN:-$out/examples/big_ipa}"
part_ops="${PART_OPS_BIN:-$out/examples/part_ops}"

now() { date +%s%N; }
secs() { python3 -c 'import sys; print(f"{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.2f}")' "$1" "$2"; }
rate() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.1f}")' "$1" "$2"; }

echo "== generating a ${size_mib} MiB IPA" >&2
"$big_ipa" "$work/App.ipa" "$size_mib" 42
bytes=$(stat -c %s "$work/App.ipa")
mib=$(python3 -c "print($bytes / 1048576)")

cat >"$work/seed.json" <<'EOF'
{"apps":[{"id":"1234567890","bundleId":"com.example.demo","name":"Demo","sku":"DEMO"}]}
EOF
# The sandbox assembles parts under TMPDIR (sparse files): keep them in the work dir.
mkdir -p "$work/tmp"
TMPDIR="$work/tmp" start_sandbox "$bin" "$work/seed.json" "$work"
export ASC_BASE_URL="$base"
export APP_STORE_CONNECT_ISSUER_ID="$issuer"
export APP_STORE_CONNECT_KEY_IDENTIFIER="$key_id"
export APP_STORE_CONNECT_PRIVATE_KEY="@file:$key_path"

# 1. Raw curl of the same ranges (an upload with another build number, so both can exist).
"$part_ops" "$work/App.ipa" 900 >"$work/ops.txt"
parts=$(wc -l <"$work/ops.txt")
echo "== raw curl: $parts parts, $concurrency at a time" >&2
t0=$(now)
xargs -P "$concurrency" -L 1 sh -c \
  'dd if="$0" iflag=skip_bytes,count_bytes skip="$1" count="$2" bs=4M status=none |
   curl -sSf -X PUT -H "Content-Type: application/octet-stream" --data-binary @- -o /dev/null "$3"' \
  "$work/App.ipa" <"$work/ops.txt"
t1=$(now)
curl_s=$(secs "$t0" "$t1")

# 2. ipagate upload, timed per phase from its JSON progress lines, under /usr/bin/time -v.
echo "== ipagate upload" >&2
ipagate_t0=$(now)
t0=$ipagate_t0
/usr/bin/time -v -o "$work/ipagate.time" "$bin" upload "$work/App.ipa" --state-dir "$work/state" \
  --concurrency "$concurrency" --format json --progress json --poll-interval-ms 200 \
  >"$work/ipagate.json" 2> >(while IFS= read -r line; do echo "$(date +%s%N) $line"; done >"$work/events.txt")
t1=$(now)
sleep 0.2
ipagate_s=$(secs "$t0" "$t1")
state=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["upload"]["state"])' "$work/ipagate.json")
rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/ipagate.time")
read -r _hashed started committed < <(python3 - "$work/events.txt" <<'PY'
import json, sys
at = {}
for line in open(sys.argv[1]):
    ts, _, rest = line.partition(" ")
    try:
        event = json.loads(rest)["event"]
    except Exception:
        continue
    at.setdefault(event, int(ts))
print(at.get("hashed", 0), at.get("started", 0), at.get("committed", 0))
PY
)
parts_s=$(secs "$started" "$committed")

# 3. appstore-tools.
tools_s="SKIPPED"
if [ "${SKIP_APPSTORE_TOOLS:-0}" != "1" ] &&
  timeout 180 npm install --silent --prefix "$work/npm" appstore-tools@1.0.13 >/dev/null 2>&1; then
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
  "$big_ipa" "$work/Tools.ipa" "$size_mib" 43
  echo "== appstore-tools builds upload" >&2
  t0=$(now)
  if PATH="$work/stubs:$PATH" ASC_BASE_URL="$base/" ASC_ISSUER_ID="$issuer" ASC_KEY_ID="$key_id" \
    ASC_PRIVATE_KEY_PATH="$key_path" \
    "$work/npm/node_modules/.bin/appstore-tools" builds upload --ipa "$work/Tools.ipa" --app com.example.demo \
    --version 1.2.3 --build-number 43 --apply --json >"$work/tools.out" 2>"$work/tools.err"; then
    t1=$(now)
    tools_s=$(secs "$t0" "$t1")
  else
    echo "appstore-tools failed:" >&2
    tail -5 "$work/tools.err" >&2
    tools_s="FAILED"
  fi
else
  echo "appstore-tools: SKIPPED (npm registry unreachable or SKIP_APPSTORE_TOOLS=1)" >&2
fi

echo
echo "IPA: $bytes bytes ($parts parts of 5 MiB), concurrency $concurrency, ipagate state $state"
printf '%-34s %8s s %9s MiB/s\n' "raw parallel curl (parts only)" "$curl_s" "$(rate "$mib" "$curl_s")"
printf '%-34s %8s s %9s MiB/s\n' "ipagate upload (parts only)" "$parts_s" "$(rate "$mib" "$parts_s")"
to_commit_s=$(secs "$ipagate_t0" "$committed")
printf '%-34s %8s s %9s MiB/s\n' "ipagate upload (start to commit)" "$to_commit_s" "$(rate "$mib" "$to_commit_s")"
printf '%-34s %8s s %9s MiB/s\n' "ipagate upload (whole command)" "$ipagate_s" "$(rate "$mib" "$ipagate_s")"
echo "  ipagate peak RSS: $((rss_kb / 1024)) MiB (target <= 64 MB); hashing overlaps the parts"
if [[ "$tools_s" =~ ^[0-9] ]]; then
  printf '%-34s %8s s %9s MiB/s\n' "appstore-tools (whole command)" "$tools_s" "$(rate "$mib" "$tools_s")"
  # appstore-tools without --wait-processing stops after the commit (one state read): compare like with like.
  echo "ipagate vs appstore-tools (start to commit): $(python3 -c "print(f'{$tools_s / $to_commit_s:.1f}')")x (target >= 5x)"
  echo "ipagate (whole command, incl. waiting for processing) vs appstore-tools: $(python3 -c "print(f'{$tools_s / $ipagate_s:.1f}')")x"
else
  echo "appstore-tools: $tools_s"
fi
echo "ipagate parts vs raw curl: $(python3 -c "print(f'{100 * $curl_s / $parts_s:.0f}')")% (target >= 70%)"
echo "ipagate start-to-commit vs raw curl parts: $(python3 -c "print(f'{100 * $curl_s / $to_commit_s:.0f}')")%"
