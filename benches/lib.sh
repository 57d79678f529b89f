# Sourced by the comparison scripts: `say`, and best-effort installs of the tools they compare with.

say() { printf '== %s\n' "$*" >&2; }

# `out_dir PROFILE`: where cargo puts this workspace's executables for PROFILE (`release`, `debug`):
# `target/<host triple>/PROFILE`, since `.cargo/config.toml` names the target of every build.
out_dir() {
  local target_dir host
  target_dir="$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  host="$(rustc -vV | sed -n 's/^host: //p')"
  printf '%s/%s/%s\n' "$target_dir" "$host" "$1"
}

# Installs Debian packages, quietly and only as root with apt-get; never fails (the caller checks
# what it needs afterwards with `require`).
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get install -y -qq "$@" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1; }) || true
  fi
}

# `ensure COMMAND PACKAGE`: installs PACKAGE when COMMAND is missing.
ensure() {
  command -v "$1" >/dev/null || { say "installing $2"; apt_install "$2"; }
}

# `require TOOL...`: exits 2, saying which, when a tool is still missing.
require() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { say "$tool is not available: cannot compare"; exit 2; }
  done
}
