#!/usr/bin/env bash
# The reader at scale: `ipagate inspect` and `ipagate preflight --no-input-hash` against
# `unzip -p IPA Payload/X.app/Info.plist | plistutil` on IPAs with many entries, in one run.
#
# The IPAs are written by Python's zipfile (as in the report that opened issue 6): one app with a
# binary Info.plist and N tiny resource files spread over 100 folders, deflated. Sizes: 1,000 to
# 200,000 entries. For each size the script prints the medians (hyperfine, whole processes), the
# ratios, ipagate's cost per entry, and ipagate's peak RSS (GNU time), then checks the targets.
# The runs are taken in ROUNDS short rounds that alternate the commands (each round: inspect,
# preflight, then the unzip pipeline) and the medians are over all rounds' runs: load from
# outside that comes and goes falls on all three alike, not on whichever ran during it (twenty
# rounds of three: in five rounds of twelve, a burst could still cover one command's round and move
# a ratio by 0.2-0.3x). Targets:
#   inspect <= 1.0x the unzip pipeline at 4,000 entries and <= 1.5x at 100,000;
#   preflight (without the input hash) within 1.2x of inspect at every size;
#   peak RSS <= 48 MB at 100,000 entries.
#
#   bash benches/entries.sh              # RUNS=60 per command, in ROUNDS=20 rounds of 3
#   RUNS=5 ROUNDS=1 SIZES="1000 100000" bash benches/entries.sh
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

RUNS="${RUNS:-60}"
ROUNDS="${ROUNDS:-20}"
per_round=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
SIZES="${SIZES:-1000 4000 20000 100000 200000}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ipagate-entries.XXXXXX")"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "keeping $work"; fi

ensure plistutil libplist-utils
ensure hyperfine hyperfine
ensure /usr/bin/time time
require plistutil hyperfine unzip /usr/bin/time

say "building ipagate (release)"
cargo build --release --quiet --bin ipagate
bin="$(out_dir release)/ipagate"

for n in $SIZES; do
  python3 - "$work/E$n.ipa" "$n" <<'PY'
import plistlib, sys, zipfile
path, n = sys.argv[1], int(sys.argv[2])
info = {"CFBundleIdentifier": "com.example.many", "CFBundleExecutable": "Many",
        "CFBundleName": "Many", "CFBundleVersion": "1", "CFBundleShortVersionString": "1.0",
        "CFBundlePackageType": "APPL", "MinimumOSVersion": "15.0", "UIDeviceFamily": [1],
        "CFBundleSupportedPlatforms": ["iPhoneOS"], "DTPlatformName": "iphoneos",
        "UILaunchStoryboardName": "LaunchScreen"}
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("Payload/Many.app/Info.plist", plistlib.dumps(info, fmt=plistlib.FMT_BINARY))
    z.writestr("Payload/Many.app/Many", b"\xcf\xfa\xed\xfe" + b"\0" * 4096)
    z.writestr("Payload/Many.app/LaunchScreen.storyboardc/Info.plist", plistlib.dumps({}))
    for i in range(max(n - 3, 0)):
        z.writestr(f"Payload/Many.app/res/{i % 100:02d}/resource-{i:06d}.txt", f"{i}\n")
PY
done
ls -l "$work"/*.ipa >&2

unzip_cmd='unzip -p {} Payload/Many.app/Info.plist | plistutil -i - -f xml'
results="$work/results.jsonl"
: >"$results"
for n in $SIZES; do
  ipa="$work/E$n.ipa"
  say "timing $n entries"
  # The generated app has no icon or launch screen, so the gate reports diagnostics and exits 1:
  # that exit code (and only that one) is expected.
  code=0
  "$bin" preflight "$ipa" --format json --no-input-hash --as-of 2026-11-25 >/dev/null || code=$?
  [ "$code" -le 1 ] || { say "preflight failed on $n entries (exit $code)"; exit 2; }
  for round in $(seq "$ROUNDS"); do
    hyperfine -N -i --warmup 3 --runs "$per_round" --style none --export-json "$work/a$n.$round.json" \
      -n inspect "$bin inspect $ipa --format json" \
      -n preflight "$bin preflight $ipa --format json --no-input-hash --as-of 2026-11-25" \
      >/dev/null 2>>"$work/hyperfine.log"
    hyperfine --shell=bash --warmup 3 --runs "$per_round" --style none --export-json "$work/b$n.$round.json" \
      -n unzip "${unzip_cmd//\{\}/$ipa}" >/dev/null 2>>"$work/hyperfine.log"
  done
  rss=$( { /usr/bin/time -f '%M' "$bin" inspect "$ipa" --format json >/dev/null; } 2>&1 | tail -n 1) || true
  rss_pre=$( { /usr/bin/time -f '%M' "$bin" preflight "$ipa" --format json --no-input-hash --as-of 2026-11-25 >/dev/null; } 2>&1 | tail -n 1) || true
  python3 - "$n" "$rss" "$rss_pre" "$work"/[ab]"$n".*.json >>"$results" <<'PY'
import json, statistics, sys
n = int(sys.argv[1])
out = {"entries": n, "rss_kb": int(sys.argv[2]), "rss_pre_kb": int(sys.argv[3])}
times = {}
for f in sys.argv[4:]:
    for r in json.load(open(f))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
for command, t in times.items():
    out[command] = statistics.median(t)
    out[command + "_min"] = min(t)
out["runs"] = len(times["inspect"])
print(json.dumps(out))
PY
done

python3 - "$results" "$RUNS" "$ROUNDS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"\nipagate at scale vs unzip -p | plistutil (hyperfine medians of {rows[0]['runs']} runs per command "
      f"in {sys.argv[3]} alternating rounds, whole processes)\n")
print("| entries | inspect | preflight (no hash) | unzip \\| plistutil | inspect / unzip | preflight / inspect | inspect / unzip, fastest runs | inspect µs/entry | peak RSS inspect / preflight |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['entries']:,} | {r['inspect']*1e3:.2f} ms | {r['preflight']*1e3:.2f} ms | {r['unzip']*1e3:.2f} ms "
          f"| {r['inspect']/r['unzip']:.2f}x | {r['preflight']/r['inspect']:.2f}x "
          f"| {r['inspect_min']/r['unzip_min']:.2f}x ({r['inspect_min']*1e3:.2f} / {r['unzip_min']*1e3:.2f} ms) "
          f"| {r['inspect']*1e6/r['entries']:.2f} | {r['rss_kb']/1024:.1f} / {r['rss_pre_kb']/1024:.1f} MB |")
print("\nMedians decide the targets; the fastest runs are shown because other load on the machine only")
print("ever adds time, so they are the least disturbed estimate of each command's own cost.")
print()
ok = True
def check(cond, text):
    global ok
    ok &= cond
    print(f"{'ok  ' if cond else 'MISS'} {text}")
by = {r["entries"]: r for r in rows}
for n, target in ((4000, 1.0), (100000, 1.5)):
    if n in by:
        ratio = by[n]["inspect"] / by[n]["unzip"]
        check(ratio <= target, f"{n:,} entries: inspect / unzip = {ratio:.2f}x (target <= {target}x)")
for r in rows:
    ratio = r["preflight"] / r["inspect"]
    check(ratio <= 1.2, f"{r['entries']:,} entries: preflight / inspect = {ratio:.2f}x (target <= 1.2x)")
if 100000 in by:
    mb = by[100000]["rss_pre_kb"] / 1024
    check(mb <= 48, f"100,000 entries: peak RSS {mb:.1f} MB (target <= 48 MB)")
sys.exit(0 if ok else 1)
PY
