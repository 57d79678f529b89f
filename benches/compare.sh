#!/usr/bin/env bash
# Times `ipagate inspect` and `ipagate preflight` against the peers on the same generated IPAs
# (the `clean` fixture with a 1 MB and a 200 MB main executable: same entries, same plists):
#
#   - unzip | plistutil: the shell pipeline people use to read an IPA's Info.plist, with the
#     anchored pattern (a glob would also match a watch app's plist: shared/reference/peers.md);
#   - codemagic-cli-tools' `xcode-project ipa-info --json`, when it can be installed (temporary
#     venv, PyPI); skipped, saying so, when the registry is unreachable.
#
# Uses hyperfine when installed (installs it with apt-get when root), else a timing loop.
# Prints one table with each command's median, mean and min and the ratio of medians to
# `ipagate inspect`, then checks the targets of issue 2: inspect at least as fast as the unzip
# pipeline, 50x faster than codemagic, and flat in the size of the executables.
#
#   bash benches/compare.sh            # RUNS=30 by default
#   RUNS=10 KEEP=1 bash benches/compare.sh
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

RUNS="${RUNS:-30}"
AS_OF="2026-11-25"
work="$(mktemp -d "${TMPDIR:-/tmp}/ipagate-compare.XXXXXX")"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "keeping $work"; fi

# ---- Build ----------------------------------------------------------------------------------
say "building ipagate and the fixture generator (release)"
cargo build --release --quiet --bin ipagate
cargo build --release --quiet -p ipagate-fixtures --example regenerate
out="$(out_dir release)"
bin="$out/ipagate"
gen="$out/examples/regenerate"

labels=(1MB 200MB)
sizes=(1000000 200000000)
for i in "${!labels[@]}"; do
  "$gen" --sized "${sizes[$i]}" "$work/Demo-${labels[$i]}.ipa"
done
ls -l "$work"/*.ipa >&2

# ---- Tools ----------------------------------------------------------------------------------
ensure plistutil libplist-utils
ensure hyperfine hyperfine

codemagic="${CODEMAGIC:-}"
if [ -z "$codemagic" ] && command -v xcode-project >/dev/null; then codemagic="$(command -v xcode-project)"; fi
if [ -z "$codemagic" ]; then
  say "installing codemagic-cli-tools into a temporary venv"
  if python3 -m venv "$work/venv" >/dev/null 2>&1 &&
    timeout 300 "$work/venv/bin/pip" install -q codemagic-cli-tools >"$work/pip.log" 2>&1; then
    codemagic="$work/venv/bin/xcode-project"
  else
    say "codemagic-cli-tools could not be installed (registry unreachable?): skipped"
  fi
fi

# ---- Commands -------------------------------------------------------------------------------
# name<TAB>command template; {} is replaced by the IPA's path. The fixture is signed by the test CA,
# so the gate is told to trust it (without, it rightly fails with ITMS-90034 and exit code 1).
commands=(
  "ipagate inspect	'$bin' inspect {} --format json"
  "ipagate preflight	'$bin' preflight {} --format json --as-of $AS_OF --trust-root '$PWD/fixtures/TestRoot.der'"
)
if command -v plistutil >/dev/null; then
  commands+=("unzip | plistutil	e=\$(unzip -Z1 {} | grep -E '^Payload/[^/]+\\.app/Info\\.plist\$'); unzip -p {} \"\$e\" | plistutil -i - -f xml")
else
  say "plistutil not found: the unzip pipeline is skipped"
fi
if [ -n "$codemagic" ]; then
  # codemagic reads the embedded profile through OpenSSL's PKCS#7 verify, which cannot check the
  # test CA's Ed25519 signature ("operation not supported for this keytype") and so fails on the
  # fixture. It gets the same IPA without its embedded.mobileprovision files ({np}): less work
  # for it than a real app, so its row is, if anything, flattered.
  for label in "${labels[@]}"; do
    python3 - "$work/Demo-$label.ipa" "$work/Demo-$label.noprofile.ipa" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as src, zipfile.ZipFile(sys.argv[2], "w") as dst:
    for info in src.infolist():
        if not info.filename.endswith("/embedded.mobileprovision"):
            dst.writestr(info, src.read(info))
PY
  done
  commands+=("codemagic ipa-info	'$codemagic' ipa-info {np} --json")
fi

# `command_for ENTRY IPA`: ENTRY's command with {} replaced by IPA and {np} by its profile-less copy.
command_for() {
  local cmd="${1#*	}"
  cmd="${cmd//\{\}/$2}"
  printf '%s' "${cmd//\{np\}/${2%.ipa}.noprofile.ipa}"
}

# Each command must work before it is timed (hyperfine -i would hide a broken one).
for label in "${labels[@]}"; do
  ipa="$work/Demo-$label.ipa"
  for entry in "${commands[@]}"; do
    cmd="$(command_for "$entry" "$ipa")"
    if ! bash -c "$cmd" >/dev/null 2>"$work/err"; then
      say "'${entry%%	*}' failed on $label: $(head -c 300 "$work/err")"
      exit 2
    fi
  done
done

# ---- Timing ---------------------------------------------------------------------------------
# Results as JSON lines: {"size", "name", "mean", "stddev", "median", "min"} (seconds). The checks
# use the median: on a shared machine a few slow runs move the mean, not the median.
results="$work/results.jsonl"
: >"$results"
if command -v hyperfine >/dev/null; then
  timer="hyperfine $(hyperfine --version | cut -d' ' -f2), $RUNS runs after 3 warm-ups"
  for label in "${labels[@]}"; do
    ipa="$work/Demo-$label.ipa"
    say "timing on $label"
    n=0
    for entry in "${commands[@]}"; do
      cmd="$(command_for "$entry" "$ipa")"
      # Plain commands run without a shell (-N); a pipeline needs one, and hyperfine subtracts
      # the shell's own start-up time from it.
      case "$cmd" in
        *'|'* | *'$('*) shell=(--shell=bash) ;;
        *) shell=(-N) ;;
      esac
      n=$((n + 1))
      hyperfine "${shell[@]}" --warmup 3 --runs "$RUNS" --style none \
        --export-json "$work/$label-$n.json" -n "${entry%%	*}" "$cmd" >/dev/null 2>>"$work/hyperfine.log"
      python3 - "$work/$label-$n.json" "$label" >>"$results" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(json.dumps({"size": sys.argv[2], "name": r["command"], "mean": r["mean"],
                      "stddev": r["stddev"] or 0.0, "median": r["median"], "min": r["min"]}))
PY
    done
  done
else
  timer="bash timing loop, $RUNS runs after 3 warm-ups (hyperfine not installed)"
  for label in "${labels[@]}"; do
    ipa="$work/Demo-$label.ipa"
    say "timing on $label"
    for entry in "${commands[@]}"; do
      cmd="$(command_for "$entry" "$ipa")"
      for _ in 1 2 3; do bash -c "$cmd" >/dev/null 2>&1; done
      times=()
      for _ in $(seq "$RUNS"); do
        t0=$(date +%s%N)
        bash -c "$cmd" >/dev/null 2>&1
        t1=$(date +%s%N)
        times+=($((t1 - t0)))
      done
      python3 - "$label" "${entry%%	*}" "${times[@]}" >>"$results" <<'PY'
import json, statistics, sys
ts = [int(t) / 1e9 for t in sys.argv[3:]]
print(json.dumps({"size": sys.argv[1], "name": sys.argv[2], "mean": statistics.mean(ts),
                  "stddev": statistics.stdev(ts) if len(ts) > 1 else 0.0,
                  "median": statistics.median(ts), "min": min(ts)}))
PY
    done
  done
fi

# ---- Report ---------------------------------------------------------------------------------
python3 - "$results" "$timer" "$work" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sizes = {}
for label in ("1MB", "200MB"):
    sizes[label] = os.path.getsize(os.path.join(sys.argv[3], f"Demo-{label}.ipa"))
base = {r["size"]: r["median"] for r in rows if r["name"] == "ipagate inspect"}
print(f"\nipagate vs peers ({sys.argv[2]}; ratios of medians)\n")
print(f"| {'command':<20} | {'IPA':>16} | {'median':>10} | {'mean ± σ':>20} | {'min':>10} | {'vs inspect':>10} |")
print(f"|{'-'*22}|{'-'*18}|{'-'*12}|{'-'*22}|{'-'*12}|{'-'*12}|")
for r in rows:
    ipa = f"{r['size']} ({sizes[r['size']]/1e6:.1f} MB)"
    ratio = r["median"] / base[r["size"]]
    mean = f"{r['mean']*1e3:.2f} ± {r['stddev']*1e3:.2f} ms"
    print(f"| {r['name']:<20} | {ipa:>16} | {r['median']*1e3:>7.2f} ms | {mean:>20} | {r['min']*1e3:>7.2f} ms | {ratio:>9.1f}x |")
print()
ok = True
def check(cond, text):
    global ok
    ok &= cond
    print(f"{'ok  ' if cond else 'MISS'} {text}")
flat = base["200MB"] / base["1MB"]
check(flat < 1.5, f"inspect is flat in executable size: 200MB/1MB = {flat:.2f}x")
for label in ("1MB", "200MB"):
    by = {r["name"]: r["median"] for r in rows if r["size"] == label}
    if "unzip | plistutil" in by:
        ratio = by["unzip | plistutil"] / by["ipagate inspect"]
        check(ratio >= 1.0, f"{label}: inspect at least as fast as unzip | plistutil ({ratio:.1f}x)")
    if "codemagic ipa-info" in by:
        ratio = by["codemagic ipa-info"] / by["ipagate inspect"]
        check(ratio >= 50, f"{label}: inspect >= 50x faster than codemagic ipa-info ({ratio:.0f}x)")
    else:
        print(f"skip {label}: codemagic-cli-tools not available")
pre = {r["size"]: r["median"] for r in rows if r["name"] == "ipagate preflight"}
if pre:
    print(f"note preflight 200MB/1MB = {pre['200MB']/pre['1MB']:.1f}x: it hashes the whole input "
          "(input.sha256 of the JSON report), the only step that reads every byte")
sys.exit(0 if ok else 1)
PY
