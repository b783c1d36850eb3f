#!/usr/bin/env python3
"""More larder benchmarks, beside bench/proxies.py (started by bench/run.sh).

Scenarios (each writes bench/results/<name>.json; bench/render.py renders them):

  warm      `larder warm -r req-100.txt --json` against the 100-project fixture
            (bench/fixture.py --many), cold (empty cache dir) and again warm:
            wall time, and every request that reached the upstream, counted in
            the upstream's access log (pages and files apart).
  clients   `pip install` and `uv pip install` of the 30-wheel dependency chain
            (bench-w000 → … → bench-w029) through larder, nginx proxy_cache,
            devpi-server and proxpi, each cold (fresh cache) and warm, against
            `--no-index --find-links DIR` (the floor) and the static fixture
            index itself; wall time and upstream requests.
  startup   larder's start-up with 1,000,000 blob rows in its catalog (and as
            many blob_name rows) against an empty catalog: time from spawn to
            the first 200 from /healthz, the first small page after that, wrk
            latency of that page, RSS.

Everything talks to 127.0.0.1 only; every loop is bounded in count and time;
every server started here is stopped on exit.

Usage: extra.py --cache DIR --venv DIR --larder BIN [warm] [clients] [startup]
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proxies  # noqa: E402
from proxies import Bench, Processes, free_port, log, machine, memory_kib, run_wrk, wait_until, http_ok  # noqa: E402

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
WARM_ROUNDS = 3
CLIENT_WARM_ROUNDS = 3


def larder_version(larder):
    try:
        out = subprocess.run([larder, "--version"], capture_output=True, text=True, timeout=30).stdout
        v = out.strip().split()[-1]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        v = "?"
    return f"{v} ({os.environ.get('LARDER_REV', '?')})"


def meta(args, started):
    return {"generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "seconds": round(time.monotonic() - started),
            "machine": machine(), "larder": larder_version(args.larder)}


class Upstream:
    """nginx serving the 100-project fixture, with an access log we can count."""

    def __init__(self, bench, name="upstream"):
        self.bench = bench
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.log = bench.work / name / "access.log"
        d = bench.nginx_conf(name, f"""
  server {{
    listen 127.0.0.1:{port};
    root {bench.fixture / 'www'};
    index index.html;
    access_log {self.log} bench;
  }}""")
        self.pid = bench.procs.start(name, ["nginx", "-p", str(d), "-c", str(d / "nginx.conf")],
                                     d / "stdout.log").pid
        wait_until("upstream", lambda: http_ok(f"{self.base}/simple/"), 30)

    def offset(self):
        return self.log.stat().st_size if self.log.exists() else 0

    def since(self, offset):
        """Requests logged after offset: pages, files, other (and per status)."""
        time.sleep(0.3)  # nginx logs at the end of each request
        with open(self.log, "rb") as f:
            f.seek(offset)
            lines = [l.split() for l in f.read().decode().splitlines() if l.strip()]
        out = {"total": len(lines), "pages": 0, "files": 0, "other": 0, "status": {}}
        for l in lines:
            uri, status = l[2], l[3]
            kind = "pages" if uri.startswith("/simple/") else "files" if uri.startswith("/packages/") else "other"
            out[kind] += 1
            out["status"][status] = out["status"].get(status, 0) + 1
        return out


def new_bench(args, work_name):
    ns = argparse.Namespace(cache=args.cache, venv=args.venv, larder=args.larder, with_500m=False,
                            rounds=1, file_seconds=1, page_seconds=1)
    b = Bench(ns)
    b.fixture = Path(args.cache) / "fixture-many"
    b.manifest = json.loads((b.fixture / "manifest.json").read_text())
    b.work = Path(args.cache) / work_name
    if b.work.exists():
        shutil.rmtree(b.work)
    b.work.mkdir(parents=True)
    return b


# ------------------------------------------------------------------ larder warm


def scenario_warm(args):
    started = time.monotonic()
    b = new_bench(args, "run-warm")
    try:
        up = Upstream(b)
        req = b.fixture / "req-100.txt"
        n_files = sum(len(p["files"]) for p in b.manifest["projects"].values())
        rounds = []
        for i in range(WARM_ROUNDS):
            data = b.work / f"data-{i}"
            runs = {}
            for phase in ("cold", "warm"):
                off = up.offset()
                t0 = time.perf_counter()
                p = subprocess.run([args.larder, "warm", "-r", str(req), "--cache-dir", str(data),
                                    "--upstream", f"{up.base}/simple/", "--json"],
                                   capture_output=True, text=True, timeout=300)
                wall = time.perf_counter() - t0
                report = json.loads(p.stdout) if p.stdout.strip().startswith("{") else {}
                runs[phase] = {"wall_s": wall, "exit": p.returncode, "upstream": up.since(off),
                               "report_counts": count_report(report),
                               "stderr_tail": p.stderr.strip().splitlines()[-3:]}
                log(f"warm round {i} {phase}: {wall:.2f} s exit {p.returncode} upstream {runs[phase]['upstream']}"
                    f" report {runs[phase]['report_counts']}")
            if i == 0:
                (b.work / "report-cold.json").write_text(p.stdout)
            rounds.append(runs)
        res = {"projects": len(b.manifest["projects"]), "files": n_files, "rounds": rounds,
               "cold_wall_s": statistics.median(r["cold"]["wall_s"] for r in rounds),
               "warm_wall_s": statistics.median(r["warm"]["wall_s"] for r in rounds),
               "meta": meta(args, started)}
    finally:
        b.procs.stop_all()
    write("warm", res)


def count_report(report):
    """Counts by status over the lists of `larder warm --json` (whatever their names)."""
    counts = {}

    def walk(x, key=None):
        if isinstance(x, dict):
            st = x.get("status") or x.get("state") or x.get("outcome")
            if isinstance(st, str) and key:
                counts[f"{key}:{st}"] = counts.get(f"{key}:{st}", 0) + 1
            for k, v in x.items():
                if isinstance(v, (list, dict)):
                    walk(v, k)
        elif isinstance(x, list):
            for v in x:
                walk(v, key)
    walk(report)
    return counts


# ------------------------------------------------------------------ real clients


def client_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "UV_NO_CONFIG": "1",
                "UV_PYTHON_DOWNLOADS": "never"})
    return env


def install(args, client, index, target, find_links=None):
    """One install of bench-w000 (and its 29 dependencies) into an empty --target."""
    venv = Path(args.venv)
    if target.exists():
        shutil.rmtree(target)
    if client == "pip":
        argv = [str(venv / "bin/pip"), "install", "-q", "--no-cache-dir", "--target", str(target)]
    else:
        argv = [str(venv / "bin/uv"), "pip", "install", "-q", "--no-cache", "--python", str(venv / "bin/python"),
                "--target", str(target)]
    argv += ["--no-index", "--find-links", find_links] if find_links else ["--index-url", index]
    argv += ["bench-w000==1.0.0"]
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=client_env(), cwd=target.parent)
    wall = time.perf_counter() - t0
    installed = len(list(target.glob("*.dist-info"))) if target.exists() else 0
    return {"wall_s": wall, "exit": p.returncode, "installed": installed,
            "stderr_tail": p.stderr.strip().splitlines()[-3:]}


def scenario_clients(args):
    started = time.monotonic()
    flat = str(Path(args.cache) / "fixture-many" / "flat")
    res = {"clients": {}, "meta": meta(args, started), "chain": 30}
    for client in ("pip", "uv"):
        b = new_bench(args, f"run-clients-{client}")
        try:
            b.start_all()  # the upstream (fixture-many) and every proxy, fresh caches
            up = Upstream.__new__(Upstream)  # the upstream start_all started
            up.base, up.log = b.base["upstream"], b.upstream_log
            tgt = b.work / "target"
            out = {}
            floor = [install(args, client, None, tgt, flat) for _ in range(CLIENT_WARM_ROUNDS)]
            out["floor"] = {"warm": floor, "warm_s": statistics.median(r["wall_s"] for r in floor)}
            log(f"{client} floor: {[round(r['wall_s'], 2) for r in floor]} installed {floor[0]['installed']}")
            for system in ["upstream"] + proxies.PROXIES:
                idx = b.page_url(system, "x").rsplit("/x/", 1)[0] + "/"
                off = up.offset()
                cold = install(args, client, idx, tgt)
                cold_up = up.since(off)
                warm, warm_up = [], []
                for _ in range(CLIENT_WARM_ROUNDS):
                    off = up.offset()
                    warm.append(install(args, client, idx, tgt))
                    warm_up.append(up.since(off))
                out[system] = {"index": idx, "cold": cold, "cold_upstream": cold_up, "warm": warm,
                               "warm_upstream": warm_up,
                               "warm_s": statistics.median(r["wall_s"] for r in warm)}
                log(f"{client} {system}: cold {cold['wall_s']:.2f} s (exit {cold['exit']}, "
                    f"{cold['installed']} installed, upstream {cold_up['pages']}p/{cold_up['files']}f) "
                    f"warm {[round(r['wall_s'], 2) for r in warm]} upstream "
                    f"{[(u['pages'], u['files']) for u in warm_up]}")
            res["clients"][client] = out
        finally:
            b.procs.stop_all()
    res["versions"] = {
        "pip": subprocess.run([str(Path(args.venv) / "bin/pip"), "--version"], capture_output=True,
                              text=True).stdout.split()[1],
        "uv": subprocess.run([str(Path(args.venv) / "bin/uv"), "--version"], capture_output=True,
                             text=True).stdout.split()[1]}
    res["meta"] = meta(args, started)
    write("clients", res)


# ------------------------------------------------------------------ start-up


def healthz_ok(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        c.request("GET", "/healthz")
        return c.getresponse().status == 200
    finally:
        c.close()


def timed_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        t0 = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status, time.perf_counter() - t0
    finally:
        c.close()


def start_larder(args, procs, data, upstream, log_dir):
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proc = procs.start("larder", [args.larder, "serve", "--listen", f"127.0.0.1:{port}", "--cache-dir", str(data),
                                  "--upstream", f"{upstream}/simple/"], log_dir / "stdout.log")
    deadline = t0 + 60
    while time.perf_counter() < deadline:
        try:
            if healthz_ok(port):
                return proc, port, time.perf_counter() - t0
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"larder exited ({proc.returncode}) before /healthz answered; see {log_dir}")
        time.sleep(0.002)
    raise RuntimeError("larder /healthz did not answer within 60 s")


def fill_catalog(path, rows):
    """rows blob rows (and one blob_name each), in one transaction."""
    con = sqlite3.connect(path)
    now = int(time.time())
    t0 = time.perf_counter()
    with con:
        con.executemany(
            "INSERT INTO blob (sha256, size, state, created_at, last_access_at) VALUES (?, ?, 'stored', ?, ?)",
            ((f"{i:064x}", 1000 + i % 100000, now - i % 86400, now - i % 86400) for i in range(rows)))
        con.executemany(
            "INSERT INTO blob_name (sha256, source, filename, url, project) VALUES (?, 'upstream', ?, ?, ?)",
            ((f"{i:064x}", f"fill_{i}-1.0-py3-none-any.whl",
              f"http://127.0.0.1:9/packages/fill-{i % 50000}/fill_{i}-1.0-py3-none-any.whl",
              f"fill-{i % 50000}") for i in range(rows)))
    con.close()
    return time.perf_counter() - t0


def scenario_startup(args):
    started = time.monotonic()
    b = new_bench(args, "run-startup")
    res = {"rows": args.rows, "runs": args.startup_runs, "catalogs": {}}
    try:
        up = Upstream(b)
        for name, rows in (("empty", 0), ("1m", args.rows)):
            data = b.work / f"data-{name}"
            procs = Processes()
            try:
                # Let larder create its catalog (and run its migrations) once.
                proc, port, first = start_larder(args, procs, data, up.base, b.work / f"log-{name}")
                procs.stop_all()
                catalog = data / "catalog.sqlite"
                if not catalog.exists():
                    raise RuntimeError(f"no {catalog} after a start")
                fill_s = fill_catalog(catalog, rows) if rows else 0.0
                if rows:
                    log(f"startup: {rows:,} rows inserted in {fill_s:.1f} s; catalog "
                        f"{catalog.stat().st_size / 2**20:.0f} MiB")
                runs = []
                for i in range(args.startup_runs):
                    proc, port, ready = start_larder(args, procs, data, up.base, b.work / f"log-{name}")
                    st, first_page = timed_get(port, "/simple/bench-w050/")
                    if st != 200:
                        raise RuntimeError(f"first page answered {st}")
                    st2, second_page = timed_get(port, "/simple/bench-w050/")
                    run = {"ready_s": ready, "first_page_s": first_page, "second_page_s": second_page,
                           "rss_kib": memory_kib(proc.pid, "VmRSS")}
                    w = run_wrk(f"http://127.0.0.1:{port}/simple/bench-w050/", 1, args.wrk_seconds)
                    run["wrk_c1"] = {k: w[k] for k in ("rps", "p50_ms", "p99_ms", "max_ms", "errors")}
                    run["rss_after_wrk_kib"] = memory_kib(proc.pid, "VmRSS")
                    procs.stop_all()
                    runs.append(run)
                    log(f"startup {name} run {i}: ready {ready * 1000:.1f} ms, first page "
                        f"{first_page * 1000:.1f} ms, second {second_page * 1000:.2f} ms, rss {run['rss_kib']} KiB"
                        + f", wrk c1 p50 {run['wrk_c1']['p50_ms']:.2f} p99 {run['wrk_c1']['p99_ms']:.2f} ms"
                          f" {run['wrk_c1']['rps']:.0f}/s")
                res["catalogs"][name] = {
                    "rows": rows, "fill_s": fill_s, "catalog_mib": catalog.stat().st_size / 2**20,
                    "runs": runs,
                    "ready_median_s": statistics.median(r["ready_s"] for r in runs),
                    "ready_max_s": max(r["ready_s"] for r in runs),
                    "first_page_median_s": statistics.median(r["first_page_s"] for r in runs[1:] or runs),
                    "first_page_cold_s": runs[0]["first_page_s"],
                    "second_page_median_s": statistics.median(r["second_page_s"] for r in runs),
                    "rss_median_kib": statistics.median(r["rss_kib"] for r in runs),
                    # wrk at c1 after every start: the median of the runs' figures
                    "wrk_c1": {k: statistics.median(r["wrk_c1"][k] for r in runs)
                               for k in ("rps", "p50_ms", "p99_ms")},
                }
            finally:
                procs.stop_all()
    finally:
        b.procs.stop_all()
    res["meta"] = meta(args, started)
    write("startup", res)


# ------------------------------------------------------------------


def write(name, res):
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(res, indent=1))
    log(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser(description="more larder benchmarks (see bench/run.sh)")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--larder", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000, help="blob rows for the start-up scenario")
    ap.add_argument("--startup-runs", type=int, default=5)
    ap.add_argument("--wrk-seconds", type=int, default=2)
    ap.add_argument("scenarios", nargs="*", default=["warm", "clients", "startup"])
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for s in args.scenarios:
        {"warm": scenario_warm, "clients": scenario_clients, "startup": scenario_startup}[s](args)


if __name__ == "__main__":
    main()
