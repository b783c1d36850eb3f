# shellcheck shell=bash
# Shared helpers for the benchmark scripts; sourced, not run.
#
# Everything the benchmarks create lives in $BENCH_CACHE (outside the
# repository): the Python venv with the other proxies, fixture files, caches,
# logs. Every server listens on 127.0.0.1 only.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
BENCH_CACHE="${LARDER_BENCH_CACHE:-$HOME/.cache/larder-bench}"
RESULTS_DIR="$BENCH_DIR/results"
mkdir -p "$BENCH_CACHE" "$RESULTS_DIR"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ensure_apt CMD PACKAGE...: install Debian packages when CMD is missing.
ensure_apt() {
  local cmd="$1"; shift
  if ! command -v "$cmd" >/dev/null 2>&1; then
    log "installing $* (apt-get)"
    if [ -z "${_BENCH_APT_UPDATED:-}" ]; then
      apt-get update -qq
      _BENCH_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

ensure_tools() {
  ensure_apt nginx nginx-light
  ensure_apt wrk wrk
  [ -x /usr/bin/time ] || { ensure_apt /usr/bin/time time; }
  ensure_apt python3 python3 python3-venv
  ensure_apt curl curl
}

# ensure_larder: sets LARDER to a release build (or to $LARDER_BIN if given).
ensure_larder() {
  if [ -n "${LARDER_BIN:-}" ]; then
    LARDER="$LARDER_BIN"
    LARDER_REV="${LARDER_REV:-binary given in LARDER_BIN}"
  else
    log "cargo build --release (a no-op when up to date)"
    (cd "$REPO_DIR" && cargo build --release --quiet)
    LARDER="$REPO_DIR/target/release/larder"
    # The source the build saw ("-dirty": with uncommitted changes).
    LARDER_REV="$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)"
  fi
  [ -x "$LARDER" ] || die "no larder binary at $LARDER"
  # Run a private copy: a rebuild of target/ during the run cannot change it.
  mkdir -p "$BENCH_CACHE/bin"
  cp "$LARDER" "$BENCH_CACHE/bin/larder.tmp"
  mv "$BENCH_CACHE/bin/larder.tmp" "$BENCH_CACHE/bin/larder"
  LARDER="$BENCH_CACHE/bin/larder"
  export LARDER LARDER_REV LARDER_BIN="$LARDER"
}

# ensure_venv: a venv in the bench cache with the proxies we compare against.
ensure_venv() {
  VENV="$BENCH_CACHE/venv"
  local want="devpi-server devpi-client proxpi gunicorn"
  if [ ! -x "$VENV/bin/devpi-server" ] || [ ! -x "$VENV/bin/gunicorn" ] \
      || ! "$VENV/bin/python" -c 'import proxpi' 2>/dev/null; then
    log "creating venv $VENV with: $want"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install -q $want
  fi
  export VENV
}

# ensure_uv: uv in the bench venv (for the real-client scenario).
ensure_uv() {
  if [ ! -x "$VENV/bin/uv" ]; then
    log "installing uv into $VENV"
    "$VENV/bin/pip" install -q uv
  fi
}

# free_port: print a TCP port that is free on 127.0.0.1 right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL [SECONDS]: poll until URL answers (bounded).
wait_http() {
  local url="$1" secs="${2:-30}" i
  for ((i = 0; i < secs * 10; i++)); do
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.1
  done
  die "$url did not answer within ${secs}s"
}

# write_static_nginx_conf DIR PORT ROOT: an nginx serving ROOT on 127.0.0.1:PORT,
# with its pid, logs and temp dirs under DIR. Run with: nginx -p DIR -c DIR/nginx.conf
write_static_nginx_conf() {
  local dir="$1" port="$2" root="$3"
  mkdir -p "$dir/logs" "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
user root;
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $root;
  }
}
EOF
}

# Kill the processes this script started (by pid), on any exit.
BENCH_PIDS=()
bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
