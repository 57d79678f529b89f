#!/usr/bin/env bash
# The privacy gate's binary scan at size, in one run (issue 12, "Speed"): on signed IPAs whose
# executable is 10 / 100 / 200 MB (an arm64 slice importing 2,000 symbols, the rest random text),
#   unzip -p IPA Payload/Demo.app/Demo > /dev/null          (inflating the binary, nothing else)
#   ipagate preflight --no-input-hash                         (every rule: inflate, page hashes,
#                                                             load commands, the symbol scan)
#   ipagate preflight --no-input-hash --config no-symbols.toml
#                                                             (the four rules that read symbols -
#                                                             91053, 91061, 90683, 90078 - off:
#                                                             the symbols tier is skipped, the
#                                                             binaries are still read and hashed)
# and prints the medians and the ratios. "with / without" is the cost of the symbol scan on the
# whole gate (issue 12: preflight within 1.5x of before the privacy gate); the scan's own cost
# against the inflate is the `symbols` criterion group (target scan <= 2x inflate).
#
#   bash benches/symbols.sh                # RUNS=10 SIZES="10 100 200"
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
RUNS="${RUNS:-10}"
SIZES="${SIZES:-10 100 200}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ipagate-symbols.XXXXXX")"
trap 'rm -rf "$work"' EXIT
command -v hyperfine >/dev/null || { say "hyperfine is not installed (apt-get install hyperfine): cannot compare"; exit 2; }
command -v unzip >/dev/null || { say "unzip is not installed: cannot compare"; exit 2; }

say "building ipagate and the IPA writer (release)"
cargo build --release --quiet --bin ipagate
cargo build --release --quiet -p ipagate-fixtures --example symbols_ipa
out="$(out_dir release)"
bin="$out/ipagate"
nosym="$work/no-symbols.toml"
printf '[rules]\nITMS-91053 = "off"\nITMS-91061 = "off"\nITMS-90683 = "off"\nITMS-90078 = "off"\n' > "$nosym"
median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"])' "$@"; }
printf '\n| binary (asked) | binary (bytes) | unzip -p > /dev/null | preflight (symbols tier) | preflight (no symbols tier) | with / without | with / unzip |\n|---:|---:|---:|---:|---:|---:|---:|\n'
for mb in $SIZES; do
  ipa="$work/Symbols-$mb.ipa"
  "$out/examples/symbols_ipa" "$ipa" "$mb"
  size=$(python3 -c 'import sys,zipfile; print(zipfile.ZipFile(sys.argv[1]).getinfo("Payload/Demo.app/Demo").file_size)' "$ipa")
  # The tiers really differ: the report says what was read.
  read_of() { "$bin" preflight --no-input-hash --format json "$@" "$ipa" | python3 -c 'import json,sys; r=json.load(sys.stdin)["read"]; print(r["binaries"], r["symbols"])'; }
  [ "$(read_of)" = "True True" ] || { say "preflight did not read binaries and symbols by default"; exit 1; }
  [ "$(read_of --config "$nosym")" = "True False" ] || { say "preflight skipped the binaries or scanned symbols with their rules off"; exit 1; }
  say "timing a $mb MB binary ($(du -h "$ipa" | cut -f1) IPA)"
  hyperfine -N -i -w 1 -r "$RUNS" --export-json "$work/t.json" \
    "unzip -p $ipa Payload/Demo.app/Demo" \
    "$bin preflight --no-input-hash --format json $ipa" \
    "$bin preflight --no-input-hash --format json --config $nosym $ipa" >/dev/null 2>&1
  u=$(median "$work/t.json" 0); p=$(median "$work/t.json" 1); n=$(median "$work/t.json" 2)
  python3 -c 'import sys; u,p,n=map(float,sys.argv[2:5]); print(f"| {sys.argv[1]} MB | {int(sys.argv[5]):,} | {u*1e3:.1f} ms | {p*1e3:.1f} ms | {n*1e3:.1f} ms | {p/n:.2f}x | {p/u:.2f}x |")' "$mb" "$u" "$p" "$n" "$size"
done
