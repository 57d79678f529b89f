#!/usr/bin/env bash
# The signing gate's speed on signed IPAs, in one run: `ipagate preflight` (every signature: CMS, chain to the
# fixture root, CodeDirectory page hashes, profiles) and `ipagate preflight --deep` (also every sealed file of every
# bundle against its CodeResources) against `unzip -tq` (inflates and CRC-checks every entry, the floor for reading
# everything), plus, when rcodesign is installed (peers.md; `cargo install apple-codesign --no-default-features
# --locked --root DIR`, then put DIR/bin on PATH), `rcodesign verify` on the unpacked main executable (it verifies one
# Mach-O file: its CodeDirectories and CMS) and `rcodesign print-signature-info` on the unpacked app (every file's
# SHA-256, every signature printed). Both start from the app already unpacked: unpacking is not counted for them.
# Peak RSS of `preflight` and `preflight --deep` by GNU time.
#
# The IPAs come from the `signed_big` example: the demo app (7 signed bundles) with an executable of MB megabytes
# and FILES more sealed resources of 1–64 KiB. Target (issue 9): `--deep` faster than `unzip -tq` on a >= 200 MB IPA
# with >= 5,000 files.
#
#   bash benches/deep.sh                          # SIZES="50:1000 200:5000", RUNS=5
#   RUNS=3 SIZES="500:5000" bash benches/deep.sh
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

RUNS="${RUNS:-5}"
SIZES="${SIZES:-50:1000 200:5000}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ipagate-deep.XXXXXX")"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "keeping $work"; fi

ensure hyperfine hyperfine
ensure /usr/bin/time time
require hyperfine unzip /usr/bin/time

say "building ipagate and the signed_big example (release)"
cargo build --release --quiet --bin ipagate
cargo build --release --quiet -p ipagate-fixtures --example signed_big
out="$(out_dir release)"
bin="$out/ipagate"
gen="$out/examples/signed_big"
root="$PWD/fixtures/TestRoot.der"
gate="$bin preflight --trust-root $root --as-of 2026-12-01 --format json"

rows="$work/rows.tsv"
: >"$rows"
for size in $SIZES; do
  mb="${size%%:*}"
  files="${size##*:}"
  ipa="$work/S${mb}M-${files}.ipa"
  "$gen" "$ipa" "$mb" "$files"
  entries=$(unzip -Z1 "$ipa" | wc -l)
  bytes=$(stat -c %s "$ipa")
  # Both must pass: a benchmark of a failing gate would measure an early exit.
  $gate "$ipa" >/dev/null || { say "preflight fails on $ipa"; exit 2; }
  $gate --deep "$ipa" >/dev/null || { say "preflight --deep fails on $ipa"; exit 2; }
  cmds=(-n preflight "$gate $ipa" -n deep "$gate --deep $ipa" -n unzip "unzip -tq $ipa")
  if command -v rcodesign >/dev/null; then
    mkdir -p "$work/unpacked-$mb" && unzip -q -o "$ipa" -d "$work/unpacked-$mb"
    app=$(ls -d "$work/unpacked-$mb"/Payload/*.app)
    exe="$app/$(basename "$app" .app)"
    cmds+=(-n rcodesign "rcodesign verify $exe" -n siginfo "rcodesign print-signature-info $app")
  fi
  hyperfine -N -w 1 -r "$RUNS" --export-json "$work/h.json" "${cmds[@]}" >&2
  rss=$( { /usr/bin/time -f '%M' $gate --deep "$ipa" >/dev/null; } 2>&1 | tail -n 1)
  rss_pre=$( { /usr/bin/time -f '%M' $gate "$ipa" >/dev/null; } 2>&1 | tail -n 1)
  python3 - "$work/h.json" "$mb" "$files" "$entries" "$bytes" "$rss" "$rss_pre" >>"$rows" <<'PY'
import json, sys
h = {r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}
print("\t".join([*sys.argv[2:8], str(h["preflight"]), str(h["deep"]), str(h["unzip"]),
                 str(h.get("rcodesign", "")), str(h.get("siginfo", ""))]))
PY
done

python3 - "$rows" <<'PY'
import sys
print("\n| IPA | entries | preflight | preflight --deep | unzip -tq | --deep / unzip -tq | rcodesign verify (exe) "
      "| rcodesign print-signature-info (app) | peak RSS preflight / --deep |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
fail = 0
for line in open(sys.argv[1]):
    mb, files, entries, size, rss, rss_pre, pre, deep, unz, rc, si = line.rstrip("\n").split("\t")
    pre, deep, unz = float(pre), float(deep), float(unz)
    rc = f"{float(rc)*1e3:.0f} ms" if rc else "not installed"
    si = f"{float(si)*1e3:.0f} ms" if si else "not installed"
    print(f"| {int(size)/1e6:.0f} MB ({mb} MB binary + {files} files) | {int(entries):,} | {pre*1e3:.0f} ms "
          f"| {deep*1e3:.0f} ms | {unz*1e3:.0f} ms | {deep/unz:.2f}x | {rc} | {si} "
          f"| {int(rss_pre)/1024:.0f} / {int(rss)/1024:.0f} MiB |")
    if int(size) >= 200_000_000 and int(files) >= 5000 and deep >= unz:
        print(f"target missed: --deep {deep*1e3:.0f} ms >= unzip -tq {unz*1e3:.0f} ms")
        fail = 1
sys.exit(fail)
PY
