#!/usr/bin/env bash
# Benchmark of `larder download` against curl, side by side in one run.
#
# A 1 GiB and a 100 MiB file of random bytes (made once, kept in the bench
# cache) are served by nginx on 127.0.0.1. Each tool downloads the 1 GiB file
# RUNS times, alternating; the median wall time gives MB/s, and /usr/bin/time
# gives the peak RSS. larder runs plain and with `--sha256` (checked, so it
# hashes every byte). larder also downloads the 100 MiB file, to show that its
# memory does not grow with the file size.
#
# Output: bench/results/download.json and the download section of BENCHMARKS.md.
# Usage: bash bench/download.sh        (env: RUNS=5, LARDER_BIN, LARDER_BENCH_CACHE)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

RUNS="${RUNS:-5}"
ensure_tools
ensure_larder

data="$BENCH_CACHE/download"
mkdir -p "$data/www"
make_file() { # NAME MIB
  local path="$data/www/$1"
  if [ ! -f "$path" ] || [ "$(stat -c %s "$path")" -ne $(($2 * 1024 * 1024)) ]; then
    log "creating $path ($2 MiB of random bytes)"
    head -c $(($2 * 1024 * 1024)) /dev/urandom >"$path.part"
    mv "$path.part" "$path"
  fi
}
make_file big-1g.bin 1024
make_file mid-100m.bin 100
# The 1 GiB file's SHA-256, for the `--sha256` (checked) runs; computed once.
sha_file="$data/big-1g.bin.sha256"
if [ ! -s "$sha_file" ] || [ "$sha_file" -ot "$data/www/big-1g.bin" ]; then
  sha256sum "$data/www/big-1g.bin" | cut -d' ' -f1 >"$sha_file"
fi
big_sha="$(cat "$sha_file")"

port="$(free_port)"
write_static_nginx_conf "$data/nginx" "$port" "$data/www"
nginx -p "$data/nginx" -c "$data/nginx/nginx.conf" &
BENCH_PIDS+=($!)
base="http://127.0.0.1:$port"
wait_http "$base/mid-100m.bin"

out="$data/out"
rm -rf "$out"
mkdir -p "$out"

# measure TOOL URL: runs one download, prints "SECONDS MAXRSS_KIB".
measure() {
  local tool="$1" url="$2" dest="$out/$1.bin" start end
  rm -f "$dest"
  start=$(date +%s%N)
  case "$tool" in
    curl) /usr/bin/time -f %M -o "$out/time.txt" curl -sS -o "$dest" "$url" ;;
    larder) /usr/bin/time -f %M -o "$out/time.txt" "$LARDER" download "$url" -o "$dest" >/dev/null 2>"$out/larder.err" ;;
    larder-sha256) /usr/bin/time -f %M -o "$out/time.txt" "$LARDER" download --sha256 "$big_sha" "$url" -o "$dest" \
      >/dev/null 2>"$out/larder.err" ;;
  esac
  end=$(date +%s%N)
  local want got
  want=$(stat -c %s "$data/www/${url##*/}")
  got=$(stat -c %s "$dest" 2>/dev/null || echo 0)
  [ "$want" = "$got" ] || die "$tool wrote $got bytes, expected $want"
  echo "$(((end - start) / 1000)) $(tail -n1 "$out/time.txt")"
}

# Warm the page cache of the source files so every run reads from memory.
cat "$data/www/big-1g.bin" "$data/www/mid-100m.bin" >/dev/null

# One discarded warm-up download per tool (first-touch costs of the output file system).
measure curl "$base/big-1g.bin" >/dev/null
measure larder "$base/big-1g.bin" >/dev/null

# Context for the figures: this CPU's SHA-256 speed (larder hashes every byte).
sha_mbs=$(openssl speed -seconds 1 -bytes 262144 -evp sha256 2>/dev/null \
  | awk '/^sha256/ { sub(/k$/, "", $2); printf "%.0f", $2 * 1000 / 1e6 }' || true)

version="$("$LARDER" --version | awk '{print $NF}') ($LARDER_REV)"

declare -A secs rss
tools="curl larder larder-sha256"
for tool in $tools; do secs[$tool]=""; rss[$tool]=""; done
for ((i = 1; i <= RUNS; i++)); do
  for tool in $tools; do
    read -r us kib < <(measure "$tool" "$base/big-1g.bin")
    log "1 GiB run $i $tool: $((us / 1000)) ms, peak RSS $kib KiB"
    secs[$tool]+="$us "
    rss[$tool]+="$kib "
  done
done
# Correctness once: larder's copies are byte-identical.
for tool in larder larder-sha256; do
  cmp -s "$out/$tool.bin" "$data/www/big-1g.bin" || die "$tool's 1 GiB copy differs from the source"
done

mid_us=""; mid_kib=""
for ((i = 1; i <= RUNS; i++)); do
  read -r us kib < <(measure larder "$base/mid-100m.bin")
  log "100 MiB run $i larder: $((us / 1000)) ms, peak RSS $kib KiB"
  mid_us+="$us "; mid_kib+="$kib "
done
rm -rf "$out"

python3 - "$RESULTS_DIR/download.json" "$RUNS" "${secs[curl]}" "${rss[curl]}" \
  "${secs[larder]}" "${rss[larder]}" "$mid_us" "$mid_kib" "${sha_mbs:-0}" "$version" "${secs[larder-sha256]}" "${rss[larder-sha256]}" <<'EOF'
import json, platform, statistics, sys, time, os
path, runs, c_us, c_kib, l_us, l_kib, m_us, m_kib, sha_mbs, version, s_us, s_kib = sys.argv[1:]
nums = lambda s: [int(x) for x in s.split()]
def entry(us, kib, size):
    us, kib = nums(us), nums(kib)
    med = statistics.median(us) / 1e6
    return {"size_bytes": size, "wall_s": [u / 1e6 for u in us], "median_s": med,
            "mb_per_s": size / med / 1e6, "peak_rss_kib": kib, "max_peak_rss_kib": max(kib)}
gib, mib100 = 1 << 30, 100 << 20
curl, larder = entry(c_us, c_kib, gib), entry(l_us, l_kib, gib)
res = {
    "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                "openssl_sha256_mb_per_s": int(sha_mbs) or None},
    "runs": int(runs),
    "larder_version": version,
    "curl_1gib": curl, "larder_1gib": larder, "larder_100mib": entry(m_us, m_kib, mib100),
    "larder_sha256_1gib": entry(s_us, s_kib, gib),
    "throughput_ratio_vs_curl": larder["mb_per_s"] / curl["mb_per_s"],
}
with open(path, "w") as f:
    json.dump(res, f, indent=2)
print(json.dumps({k: res[k] for k in ("throughput_ratio_vs_curl",)}))
EOF
python3 "$BENCH_DIR/render.py"
log "wrote $RESULTS_DIR/download.json and updated BENCHMARKS.md"
