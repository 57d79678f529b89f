# Sourced by the comparison scripts: starts `ipagate sandbox` in the background and reads its
# first-line banner. Usage: start_sandbox BIN SEED_FILE WORK_DIR. Sets sandbox_pid, base, issuer,
# key_id, key_path (the caller's EXIT trap stops the sandbox). Exits 1 if it does not start.
# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_sandbox() {
  local bin="$1" seed="$2" work="$3"
  mkdir -p "$work/keys"
  "$bin" sandbox --seed "$seed" --generate-key "$work/keys" >"$work/sandbox.out" 2>"$work/sandbox.err" &
  sandbox_pid=$!
  for _ in $(seq 1 100); do
    [ -s "$work/sandbox.out" ] && break
    sleep 0.1
  done
  if ! [ -s "$work/sandbox.out" ]; then
    echo "FAILED: ipagate sandbox did not start:" >&2
    cat "$work/sandbox.err" >&2
    exit 1
  fi
  read -r base issuer key_id key_path < <(python3 -c 'import json,sys
d=json.loads(open(sys.argv[1]).readline())
print(d["base_url"], d["issuer_id"], d["key_id"], d["private_key_path"])' "$work/sandbox.out")
  echo "sandbox: $base (key $key_id)"
}
