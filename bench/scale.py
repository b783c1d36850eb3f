#!/usr/bin/env python3
"""Real-index scale (issue 15): larder and nginx proxy_cache in front of the
real-shaped fixture (bench/fixture_scale.py: 750,000 names, 300 pages up to
20,000 files), on 127.0.0.1 only.

1. starts the fixture upstream (nginx: the list and pages as PEP 503 HTML or
   PEP 691 JSON by the Accept header, static files, so ETag / Last-Modified and
   304s; its access log counts the requests per path), nginx proxy_cache
   (cache key: URI + format) and larder (fresh data dir); larder's RSS is
   sampled every 100 ms from here on, and the run stops a load early if it
   passes RSS_LIMIT (a shared machine);
2. list cold coalescing: N=32 clients at once on the uncached list through
   each proxy (larder fresh): upstream requests for /simple/ and the time until
   the last client is done, against one direct download from the upstream;
3. the 300 pages cold (HTML, then JSON) through each;
4. warm: first-byte latency of the list (curl, median of 5), then paired
   wrk rounds on the list (c1, c64) and on the 20,000-file page (HTML, JSON,
   c64): in each round larder and nginx back to back (order alternating),
   the ratio per pair, the median of the ratios beside each system's median;
5. idle RSS once the load is over;
6. start-up: larder stopped; the upstream replaced by a listener that only
   counts connections; larder restarted on the warm data dir: time from spawn
   to the first 200 of /simple/, names in that answer, the 300 pages answered,
   and connections to the upstream (0 = nothing re-fetched).

Results: bench/results/scale.json; bench/render_scale.py renders
bench/results/scale.md and the BENCHMARKS.md section.

Usage: scale.py [--cache DIR] [--larder BIN] [--rounds N] [--seconds S]
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_scale  # noqa: E402
from proxies import (Bench, Processes, cpu_seconds, free_port, http_ok, machine,  # noqa: E402
                     memory_kib, status_sums, wait_until)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
HTML_ACCEPT = "text/html"
COLD_CLIENTS = 32
RSS_LIMIT_KIB = 3 * 1024 * 1024  # a load is stopped early when larder passes this
TARGETS = {"peak_rss_mib": 64, "idle_rss_mib": 32, "vs_nginx": 0.8, "first_byte_ms": 5,
           "cold_vs_direct": 1.2, "startup_ms": 200}


def log(msg):
    print(f"[scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ sampling


class Sampler(threading.Thread):
    """RSS (summed over the process tree) of each pid every 0.1 s: the peak per
    phase; when larder passes RSS_LIMIT_KIB, the current load process is killed."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = dict(pids)
        self.phase = "start"
        self.peaks = {}
        self.limit_hit = []
        self.load = None  # the Popen of the running load (wrk, curl)
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(0.1):
            phase = self.phase
            for name, pid in list(self.pids.items()):
                rss = status_sums(pid, ("VmRSS",))["VmRSS"]
                p = self.peaks.setdefault(phase, {})
                p[name] = max(p.get(name, 0), rss)
                if name == "larder" and rss > RSS_LIMIT_KIB and self.load is not None:
                    if self.load.poll() is None:
                        self.load.kill()
                        self.limit_hit.append(phase)

    def peak(self, name, phases=None):
        return max((v.get(name, 0) for ph, v in self.peaks.items() if phases is None or ph in phases), default=0)


# ------------------------------------------------------------------ clients


def run_load(sampler, argv, timeout):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler.load = proc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    finally:
        sampler.load = None
    return proc.returncode, out, err


def wrk(sampler, url, conc, seconds, accept):
    argv = ["wrk", f"-t{1 if conc == 1 else 2}", f"-c{conc}", f"-d{seconds}s", "--timeout", "10s",
            "-s", str(BENCH / "wrk_json.lua"), "-H", f"Accept: {accept}", url]
    rc, out, err = run_load(sampler, argv, seconds + 60)
    line = next((l for l in out.splitlines() if l.startswith("WRK_JSON ")), None)
    if line is None:
        return {"rps": 0.0, "failed": f"wrk exit {rc} (stopped at the RSS limit?) {err.strip()[:200]}"}
    raw = json.loads(line[len("WRK_JSON "):])
    secs = raw["duration_us"] / 1e6
    return {"rps": raw["requests"] / secs, "mb_per_s": raw["bytes"] / secs / 1e6, "requests": raw["requests"],
            "p50_ms": raw["latency_us"]["p50"] / 1000, "p99_ms": raw["latency_us"]["p99"] / 1000,
            "errors": sum(raw["errors"].values())}


CURL_FMT = "CURL %{http_code} %{size_download} %{time_starttransfer} %{time_total} %{exitcode}\n"


def curl_many(sampler, url, n, accept, timeout=300):
    """n transfers of url started at once by one curl (--parallel-immediate)."""
    argv = ["curl", "--silent", "--max-time", str(timeout), "--parallel", "--parallel-immediate",
            "--parallel-max", str(n), "-H", f"Accept: {accept}", "--write-out", CURL_FMT]
    for _ in range(n):
        argv += [url, "--output", "/dev/null"]
    t0 = time.perf_counter()
    _, out, _ = run_load(sampler, argv, timeout + 30)
    wall = time.perf_counter() - t0
    res = []
    for line in out.splitlines():
        if line.startswith("CURL "):
            code, size, ttfb, total, ec = line.split()[1:6]
            res.append({"status": int(code), "bytes": int(size), "ttfb_s": float(ttfb),
                        "total_s": float(total), "exit": int(ec)})
    return res, wall


def curl_one(url, accept):
    out = subprocess.run(["curl", "--silent", "--max-time", "120", "-H", f"Accept: {accept}", "--output",
                          "/dev/null", "--write-out", CURL_FMT, url], capture_output=True, text=True,
                         timeout=150).stdout
    code, size, ttfb, total, ec = out.split()[1:6]
    return {"status": int(code), "bytes": int(size), "ttfb_s": float(ttfb), "total_s": float(total)}


def get(url, accept, timeout=120):
    req = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, "", b""


def settle(pid, seconds=90):
    """Wait (bounded) until pid uses < 5 % of a CPU: work left over from a load is done."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        a = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - a < 0.025:
            return
    log(f"pid {pid} still busy after {seconds}s")


def count_names(body, ctype):
    if "json" in ctype:
        return len(json.loads(body)["projects"])
    return body.count(b"<a ")


class Counter(threading.Thread):
    """A stand-in for the stopped upstream: accepts connections on its port,
    counts them and closes them at once."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.count = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                c, _ = self.sock.accept()
                self.count += 1
                c.close()
            except OSError:
                pass
        self.sock.close()


# ------------------------------------------------------------------ the run


class Scale:
    def __init__(self, args):
        self.args = args
        self.cache = Path(args.cache)
        self.fixture = self.cache / "fixture-scale"
        self.work = self.cache / "run-scale"
        self.procs = Processes()
        self.res = {}

    def nginx_conf(self, name, block):
        return Bench.nginx_conf(types.SimpleNamespace(work=self.work), name, block)

    def start_upstream(self, port):
        d = self.nginx_conf("upstream", f"""
  log_format scale '$msec $request_method $request_uri $status $body_bytes_sent $uri';
  map $http_accept $scale_fmt {{
    default html;
    "~application/vnd\\.pypi\\.simple\\.v1\\+json" json;
  }}
  server {{
    listen 127.0.0.1:{port};
    root {self.fixture / 'www'};
    access_log {self.upstream_log} scale;
    location /simple/ {{
      types {{ text/html html; application/vnd.pypi.simple.v1+json json; }}
      index index.$scale_fmt;
      add_header Vary Accept;
    }}
  }}""")
        proc = self.procs.start("upstream", ["nginx", "-p", str(d), "-c", str(d / "nginx.conf")],
                                d / "stdout.log")
        wait_until("upstream", lambda: http_ok(f"http://127.0.0.1:{port}/simple/{self.huge}/"), 30)
        return proc

    def start_nginx(self, port, up):
        d = self.nginx_conf("nginx", f"""
  map $http_accept $scale_fmt {{
    default html;
    "~application/vnd\\.pypi\\.simple\\.v1\\+json" json;
  }}
  proxy_cache_path {self.work}/nginx/cache levels=1:2 keys_zone=scale:10m max_size=5g
                   inactive=1d use_temp_path=off;
  server {{
    listen 127.0.0.1:{port};
    access_log {self.work}/nginx/access.log bench;
    location / {{
      proxy_pass {up};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache scale;
      proxy_cache_key $scheme$proxy_host$request_uri$scale_fmt;
      proxy_cache_valid 200 1d;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 120s;
      proxy_cache_lock_age 120s;
    }}
  }}""")
        return self.procs.start("nginx", ["nginx", "-p", str(d), "-c", str(d / "nginx.conf")], d / "stdout.log")

    def start_larder(self, procs, port, up):
        d = self.work / "larder"
        d.mkdir(exist_ok=True)
        env = {"LARDER_LOG": os.environ["BENCH_LARDER_LOG"]} if os.environ.get("BENCH_LARDER_LOG") else {}
        return procs.start("larder", [self.args.larder, "serve", "--listen", f"127.0.0.1:{port}",
                                      "--cache-dir", str(d / "data"), "--upstream", f"{up}/simple/"],
                           d / "stdout.log", cwd=d, env=env)

    def upstream_hits(self):
        """{request path: count} from the upstream's access log so far."""
        hits = {}
        if self.upstream_log.exists():
            for line in self.upstream_log.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    hits[parts[2]] = hits.get(parts[2], 0) + 1
        return hits

    def run(self):
        started = time.monotonic()
        self.manifest = fixture_scale.generate(self.fixture)
        self.huge = self.manifest["huge"]
        self.projects = sorted(self.manifest["projects"])
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        self.upstream_log = self.work / "upstream" / "access.log"
        up_port, nginx_port, larder_port = free_port(), free_port(), free_port()
        up = f"http://127.0.0.1:{up_port}"
        self.base = {"larder": f"http://127.0.0.1:{larder_port}", "nginx": f"http://127.0.0.1:{nginx_port}"}
        upstream = self.start_upstream(up_port)
        nginx = self.start_nginx(nginx_port, up)
        self.larder_procs = Processes()
        larder = self.start_larder(self.larder_procs, larder_port, up)
        wait_until("nginx", lambda: http_ok(f"{self.base['nginx']}/nginx-is-up"), 30)
        wait_until("larder", lambda: http_ok(f"{self.base['larder']}/healthz"), 60)
        self.pids = {"larder": larder.pid, "nginx": nginx.pid}
        sampler = Sampler(self.pids)
        sampler.start()
        try:
            self.res["idle_start_rss_kib"] = memory_kib(larder.pid, "VmRSS")
            self.conditional(up)
            sampler.phase = "cold"
            self.cold_list(sampler, up)
            self.cold_pages()
            sampler.phase = "warm"
            self.first_byte()
            self.warm_rounds(sampler)
            sampler.phase = "after"
            settle(larder.pid)
            time.sleep(2.0)
            hwm = memory_kib(larder.pid, "VmHWM")
            self.res["rss"] = {
                "larder_peak_kib": max(hwm, sampler.peak("larder", ("start", "cold", "warm"))),
                "larder_peak_sampled_kib": sampler.peak("larder", ("start", "cold", "warm")),
                "larder_vmhwm_kib": hwm,
                "larder_idle_after_kib": memory_kib(larder.pid, "VmRSS"),
                "nginx_peak_kib": sampler.peak("nginx", ("start", "cold", "warm")),
                "by_phase": sampler.peaks,
                "stopped_at_limit": sampler.limit_hit,
                "limit_kib": RSS_LIMIT_KIB,
            }
            log(f"larder RSS peak {self.res['rss']['larder_peak_kib'] / 1024:.1f} MiB, idle after "
                f"{self.res['rss']['larder_idle_after_kib'] / 1024:.1f} MiB; loads stopped at the limit: "
                f"{sampler.limit_hit}")
        finally:
            sampler.stopped.set()
        self.startup(upstream, up_port, larder_port, up)
        self.res["meta"] = self.meta(started)

    # --- scenarios ------------------------------------------------------------

    def conditional(self, up):
        """The fixture itself: the list's ETag and a conditional GET's 304."""
        out = {}
        for fmt, accept in (("html", HTML_ACCEPT), ("json", JSON_ACCEPT)):
            req = urllib.request.Request(f"{up}/simple/", headers={"Accept": accept}, method="HEAD")
            with urllib.request.urlopen(req, timeout=30) as r:
                etag, lm, ctype = r.headers.get("ETag"), r.headers.get("Last-Modified"), r.headers.get("Content-Type")
            req = urllib.request.Request(f"{up}/simple/", headers={"Accept": accept, "If-None-Match": etag})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            out[fmt] = {"etag": etag, "last_modified": lm, "content_type": ctype, "if_none_match_status": status}
        self.res["fixture_conditional"] = out
        log(f"fixture: {out}")

    def cold_list(self, sampler, up):
        url_up = f"{up}/simple/"
        direct = [curl_one(url_up, HTML_ACCEPT) for _ in range(3)]
        res = {"clients": COLD_CLIENTS, "direct_runs": direct,
               "direct_s": statistics.median(d["total_s"] for d in direct), "results": {}}
        log(f"list direct: {res['direct_s']:.3f} s ({direct[0]['bytes']:,} bytes)")
        # For context: the same 32 clients straight to the upstream (what the client side,
        # one curl reading 32 lists at once, costs by itself).
        cl, wall = curl_many(sampler, url_up, COLD_CLIENTS, HTML_ACCEPT)
        ok = [c for c in cl if c["status"] == 200 and c["exit"] == 0]
        res["direct_all"] = {"complete_clients": len(ok), "last_done_s": max((c["total_s"] for c in ok), default=None)}
        log(f"list direct x{COLD_CLIENTS}: last done {res['direct_all']['last_done_s']} s")
        for system in ("larder", "nginx"):
            before = self.upstream_hits().get("/simple/", 0)
            cl, wall = curl_many(sampler, f"{self.base[system]}/simple/", COLD_CLIENTS, HTML_ACCEPT)
            settle(self.pids[system])
            time.sleep(0.5)
            ok = [c for c in cl if c["status"] == 200 and c["exit"] == 0]
            r = {"upstream_requests": self.upstream_hits().get("/simple/", 0) - before,
                 "complete_clients": len(ok), "last_done_s": max((c["total_s"] for c in ok), default=None),
                 "wall_s": wall, "bytes": ok[0]["bytes"] if ok else None,
                 "ttfb_max_s": max((c["ttfb_s"] for c in ok), default=None)}
            res["results"][system] = r
            log(f"list cold {system}: upstream {r['upstream_requests']} complete {len(ok)}/{COLD_CLIENTS} "
                f"last done {r['last_done_s']} s")
        self.res["list_cold"] = res

    def cold_pages(self):
        res = {}
        for system in ("larder", "nginx"):
            t0 = time.perf_counter()
            bad = []

            def one(p):
                for accept in (HTML_ACCEPT, JSON_ACCEPT):
                    st, ctype, body = get(f"{self.base[system]}/simple/{p}/", accept)
                    if st != 200 or ("json" in accept) != ("json" in ctype):
                        bad.append((p, accept, st, ctype))
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                list(ex.map(one, self.projects))
            res[system] = {"seconds": time.perf_counter() - t0, "failures": bad[:5], "failed": len(bad)}
            log(f"pages cold {system}: {res[system]['seconds']:.1f} s, {len(bad)} failed {bad[:2]}")
        hits = self.upstream_hits()
        res["upstream_page_requests"] = sum(v for k, v in hits.items() if k.startswith("/simple/") and k != "/simple/")
        self.res["pages_cold"] = res

    def first_byte(self):
        res = {}
        for system in ("larder", "nginx"):
            runs = [curl_one(f"{self.base[system]}/simple/", HTML_ACCEPT) for _ in range(5)]
            res[system] = {"ttfb_ms_median": statistics.median(r["ttfb_s"] for r in runs) * 1000,
                           "total_ms_median": statistics.median(r["total_s"] for r in runs) * 1000,
                           "statuses": [r["status"] for r in runs]}
            log(f"list first byte {system}: {res[system]['ttfb_ms_median']:.2f} ms "
                f"(complete {res[system]['total_ms_median']:.1f} ms)")
        self.res["list_first_byte"] = res

    def warm_rounds(self, sampler):
        rows = [("list", "html", 1, "/simple/"), ("list", "html", 64, "/simple/"),
                (self.huge, "html", 64, f"/simple/{self.huge}/"), (self.huge, "json", 64, f"/simple/{self.huge}/")]
        out = []
        for what, fmt, conc, path in rows:
            accept = JSON_ACCEPT if fmt == "json" else HTML_ACCEPT
            pairs = []
            for i in range(self.args.rounds):
                order = ("larder", "nginx") if i % 2 == 0 else ("nginx", "larder")
                pair = {}
                for system in order:
                    pair[system] = wrk(sampler, f"{self.base[system]}{path}", conc, self.args.seconds, accept)
                    settle(self.pids[system])
                n = pair["nginx"]["rps"]
                pair["ratio"] = pair["larder"]["rps"] / n if n else None
                pairs.append(pair)
            ratios = [p["ratio"] for p in pairs if p["ratio"] is not None]
            row = {"what": "list" if what == "list" else "page-20000", "project": what, "format": fmt,
                   "concurrency": conc, "pairs": pairs,
                   "larder_rps": statistics.median(p["larder"]["rps"] for p in pairs),
                   "nginx_rps": statistics.median(p["nginx"]["rps"] for p in pairs),
                   "ratio_median": statistics.median(ratios) if ratios else None}
            out.append(row)
            log(f"warm {row['what']} {fmt} c{conc}: larder {row['larder_rps']:.1f}/s nginx {row['nginx_rps']:.1f}/s "
                f"ratio {row['ratio_median']}")
        self.res["warm"] = out

    def startup(self, upstream, up_port, larder_port, up):
        self.larder_procs.stop_all()
        hits_before = self.upstream_hits()
        upstream.terminate()
        upstream.wait(timeout=15)
        time.sleep(0.3)
        counter = Counter(up_port)
        counter.start()
        runs = []
        try:
            for i in range(self.args.startup_runs):
                procs = Processes()
                try:
                    t0 = time.perf_counter()
                    proc = self.start_larder(procs, larder_port, up)
                    ready = None
                    while time.perf_counter() - t0 < 60:
                        try:
                            c = http.client.HTTPConnection("127.0.0.1", larder_port, timeout=30)
                            c.request("GET", "/simple/", headers={"Accept": HTML_ACCEPT})
                            r = c.getresponse()
                            if r.status == 200:
                                ready = time.perf_counter() - t0
                                body = r.read()
                                complete = time.perf_counter() - t0
                                c.close()
                                break
                            r.read()
                            c.close()
                        except OSError:
                            pass
                        if proc.poll() is not None:
                            raise RuntimeError(f"larder exited ({proc.returncode}) at start-up")
                        time.sleep(0.002)
                    if ready is None:
                        runs.append({"ready_s": None})
                        continue
                    run = {"ready_s": ready, "complete_s": complete, "names": count_names(body, "html"),
                           "rss_kib": memory_kib(proc.pid, "VmRSS")}
                    if i == 0:
                        ok = sum(1 for p in self.projects
                                 if get(f"{self.base['larder']}/simple/{p}/", HTML_ACCEPT)[0] == 200)
                        run["pages_200"] = ok
                    run["upstream_connections_so_far"] = counter.count
                    runs.append(run)
                    log(f"startup {i}: first /simple/ 200 after {ready * 1000:.1f} ms (complete "
                        f"{complete * 1000:.1f} ms, {run['names']:,} names), upstream connections {counter.count}")
                finally:
                    procs.stop_all()
        finally:
            counter.stopped.set()
            counter.join(timeout=5)
        ready = [r["ready_s"] for r in runs if r.get("ready_s") is not None]
        self.res["startup"] = {
            "runs": runs, "ready_median_s": statistics.median(ready) if ready else None,
            "upstream_connections": counter.count,
            "upstream_log_unchanged": self.upstream_hits() == hits_before,
            "names_expected": self.manifest["names"],
            "pages_expected": len(self.projects),
        }

    def meta(self, started):
        try:
            v = subprocess.run([self.args.larder, "--version"], capture_output=True, text=True,
                               timeout=30).stdout.strip().split()[-1]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            v = "?"
        nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
        m = {k: v for k, v in self.manifest.items() if k != "projects"}
        return {"generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "seconds": round(time.monotonic() - started),
                "machine": machine(), "larder": v, "larder_rev": os.environ.get("LARDER_REV", "?"),
                "nginx": nginx_v, "rounds": self.args.rounds, "wrk_seconds": self.args.seconds,
                "fixture": m, "targets": TARGETS}


def main():
    ap = argparse.ArgumentParser(description="real-index scale scenario (issue 15)")
    ap.add_argument("--cache", default=os.environ.get("LARDER_BENCH_CACHE", str(Path.home() / ".cache/larder-bench")))
    ap.add_argument("--larder", default=os.environ.get("LARDER_BIN", str(REPO / "target/release/larder")))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_PAGE_SECONDS", 2)))
    ap.add_argument("--startup-runs", type=int, default=3)
    ap.add_argument("--out", default=str(BENCH / "results" / "scale.json"))
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    s = Scale(args)
    try:
        s.run()
    finally:
        s.procs.stop_all()
        if hasattr(s, "larder_procs"):
            s.larder_procs.stop_all()
    Path(args.out).write_text(json.dumps(s.res, indent=1))
    log(f"wrote {args.out}")
    subprocess.run([sys.executable, str(BENCH / "render_scale.py")], check=False)


if __name__ == "__main__":
    main()
