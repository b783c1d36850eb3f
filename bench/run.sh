#!/usr/bin/env bash
# The proxy benchmarks in one command: larder vs nginx proxy_cache, devpi-server
# and proxpi, all in front of the same fixture upstream on 127.0.0.1.
#
# Installs what it needs (nginx, wrk, time via apt-get; devpi-server,
# devpi-client, proxpi, gunicorn into a venv in the bench cache), builds larder
# (release), generates the fixture index, runs bench/proxies.py and renders the
# results into BENCHMARKS.md.
#
# Then bench/extra.py: `larder warm` of 100 projects (a few seconds) always, and
# behind flags the slower scenarios.
#
# Usage: bash bench/run.sh [--with-500m] [--download] [--clients] [--startup] [--all] [--no-proxies] [--scale]
#   --with-500m   also a 500 MiB file in the warm file scenario, and 500 slow clients
#                 reading it through each proxy (needs ~3 GiB disk)
#   --download    also run bench/download.sh (larder download vs curl)
#   --clients     also pip / uv installs through every proxy (~1 minute; installs uv into the venv)
#   --startup     also larder's start-up with 1 million cached files (~1 minute, ~750 MiB disk)
#   --all         --download --clients --startup
#   --no-proxies  skip bench/proxies.py (the ~8-minute suite), e.g. to rerun only the others
#   --scale       also bench/scale.py: the real-index scale scenario of issue 15 (750,000 names,
#                 pages up to 20,000 files; larder vs nginx proxy_cache; ~2 minutes, ~120 MiB disk);
#                 `python3 bench/scale.py` runs it alone
# Environment: LARDER_BENCH_CACHE (default ~/.cache/larder-bench), LARDER_BIN
#   (use this binary instead of building), BENCH_FILE_SECONDS (2),
#   BENCH_PAGE_SECONDS (2), BENCH_ROUNDS (3), BENCH_LARDER_LOG (LARDER_LOG for larder).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

with_500m=()
download=0
extra=(warm)
proxies=1
scale=0
for arg in "$@"; do
  case "$arg" in
    --with-500m) with_500m=(--with-500m) ;;
    --download) download=1 ;;
    --clients) extra+=(clients) ;;
    --startup) extra+=(startup) ;;
    --all) download=1; extra+=(clients startup) ;;
    --no-proxies) proxies=0 ;;
    --scale) scale=1 ;;
    *) die "unknown argument $arg (see the header of $0)" ;;
  esac
done

ensure_tools
ensure_larder
ensure_venv

log "fixture index in $BENCH_CACHE/fixture"
python3 "$BENCH_DIR/fixture.py" "$BENCH_CACHE/fixture" "${with_500m[@]}" >/dev/null

python3 "$BENCH_DIR/fixture.py" "$BENCH_CACHE/fixture-many" --many >/dev/null

if [ "$proxies" = 1 ]; then
  log "running the proxy benchmarks (about 8 minutes)"
  python3 "$BENCH_DIR/proxies.py" --cache "$BENCH_CACHE" --venv "$VENV" --larder "$LARDER" \
    "${with_500m[@]}" &
  BENCH_PIDS+=($!)
  wait $!
fi

case " ${extra[*]} " in
  *" clients "*) ensure_uv ;;
esac
log "running bench/extra.py: ${extra[*]}"
python3 "$BENCH_DIR/extra.py" --cache "$BENCH_CACHE" --venv "$VENV" --larder "$LARDER" "${extra[@]}" &
BENCH_PIDS+=($!)
wait $!

if [ "$scale" = 1 ]; then
  log "real-shaped fixture in $BENCH_CACHE/fixture-scale"
  python3 "$BENCH_DIR/fixture_scale.py" "$BENCH_CACHE/fixture-scale" >/dev/null
  log "running bench/scale.py (about 2 minutes)"
  python3 "$BENCH_DIR/scale.py" --cache "$BENCH_CACHE" --larder "$LARDER" &
  BENCH_PIDS+=($!)
  wait $!
fi

if [ "$download" = 1 ]; then
  bash "$BENCH_DIR/download.sh"
fi
python3 "$BENCH_DIR/render.py"
log "results in $RESULTS_DIR, tables in $REPO_DIR/BENCHMARKS.md"
