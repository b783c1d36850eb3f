#!/usr/bin/env python3
"""Proxy benchmarks: larder against nginx proxy_cache, devpi-server and proxpi.

Started by bench/run.sh (which installs the tools and builds the fixture);
everything runs on 127.0.0.1. In one run it:

1. starts the fixture upstream (nginx serving the static PEP 503 tree, with the
   `bench-cold` project throttled by `limit_rate`), and the four proxies, each
   pointed at that upstream, each with a fresh cache;
2. measures idle RSS, then warms every proxy (each page once as HTML and as
   JSON, each benchmarked file once; downloaded files are checked against their
   sha256);
3. warm file throughput (wrk; 1 MiB and 50 MiB, concurrency 1 and 64); a
   second larder serving the fixture as a generic mirror (`--source`) takes
   part in these rows too (`larder-mirror`); during each wrk run also the CPU
   time of the loaded server's processes (utime + stime from /proc), so CPU
   seconds per GB served;
4. warm page throughput and latency (wrk; the 3,000-file page and the small
   page, HTML and JSON, concurrency 1 and 64);
   every figure is the median of ROUNDS short wrk runs, the systems taking
   turns, so that drift from other work on the machine hits them alike;
5. records peak RSS (VmHWM) after the warm scenarios;
6. cold coalescing: 32 clients (32 transfers of one `curl --parallel
   --parallel-immediate`) start the same uncached, throttled 50 MiB file at
   once through each proxy; upstream requests are counted in the upstream's
   access log; compared with one direct download from the upstream;
7. peak RSS after everything, and idle RSS once the load is over;
8. with --with-500m: 500 slow clients (one asyncio loop; each connection reads
   64 KiB every 0.1 s) on the warm 500 MiB file, 10 s per proxy in turn (the
   larder mirror too), while the server's RSS is sampled; then every
   connection is closed and the server must still answer.

`--only files,pages,cold,slow` (development) runs only the named scenarios; the
start-up and warm-up always run. The default is all of them (slow only with
--with-500m).

Results go to bench/results/proxy.json (bench/render.py turns them into
Markdown). Every wrk run is bounded by its duration, every HTTP request by a
timeout, and every server started here is stopped on exit.
"""

import argparse
import asyncio
import collections
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
HTML_ACCEPT = "text/html"
MIB = 1024 * 1024
THROTTLE = "20m"  # nginx limit_rate for the cold project: 20 MB/s per connection
COLD_CLIENTS = 32
# Slow clients on the 500 MiB file: SLOW_CLIENTS connections, each reading
# SLOW_READ bytes every SLOW_TICK seconds, for SLOW_SECONDS per system.
SLOW_CLIENTS = 500
SLOW_SECONDS = 10
SLOW_READ = 64 * 1024
SLOW_TICK = 0.1
# Each client socket's receive buffer (the kernel doubles it): fixed, so that what
# the kernel holds on the client side does not depend on the machine's autotuning.
SLOW_RCVBUF = 128 * 1024
# A server whose RSS passes this during the slow clients is stopped early (its
# connections closed): a safety bound for a machine shared with other work.
SLOW_RSS_LIMIT_KIB = 4 * 1024 * 1024

SCENARIOS = ["files", "pages", "cold", "slow"]  # --only picks some of these

PROXIES = ["larder", "nginx", "devpi", "proxpi"]
SYSTEMS = ["upstream"] + PROXIES  # "upstream" is the floor: nginx serving the fixture


def log(msg):
    print(f"[proxies {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit(want):
    """Raise the soft open-files limit to `want` (at most the hard limit): the slow
    clients need one socket each, and the servers started here inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        log(f"open-files limit raised from {soft} to {new}")


# ------------------------------------------------------------------ processes


class Processes:
    """The servers started by this run; all are stopped on exit."""

    def __init__(self):
        self.procs = []

    def start(self, name, argv, log_path, env=None, cwd=None):
        out = open(log_path, "ab")
        err = open(Path(log_path).with_name("stderr.log"), "ab")
        proc = subprocess.Popen(
            argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, cwd=cwd,
        )
        out.close()
        err.close()
        self.procs.append((name, proc))
        return proc

    def stop_all(self):
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 15
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {proc.pid}) ignored SIGTERM; killing it")
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()


def wait_until(what, check, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {seconds}s")


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status < 500
    except urllib.error.HTTPError as e:
        return e.code < 500


# ------------------------------------------------------------------ memory


def children_map():
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def process_tree(pid, kids=None):
    kids, out, todo = kids or children_map(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def status_sums(pid, keys=("VmRSS", "VmHWM", "Threads"), kids=None):
    """Sums of /proc/PID/status fields (KiB, or a count) over PID and its descendants."""
    total = dict.fromkeys(keys, 0)
    for p in process_tree(pid, kids):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                key = line.split(":", 1)[0]
                if key in total:
                    total[key] += int(line.split()[1])
        except OSError:
            pass
    return total


def memory_kib(pid, key):
    return status_sums(pid, (key,))[key]


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, kids=None):
    """CPU time (user + system) used so far by PID and its descendants, in seconds.

    Taken from /proc/PID/stat: utime and stime (all threads of the process), plus
    cutime and cstime, which hold the time of children that exited and were
    reaped: a worker that ends between two readings moves its time from its own
    line to its parent's, so a difference of two readings still counts it once.
    """
    ticks = 0
    for p in process_tree(pid, kids):
        try:
            # Fields after the ")" that ends the command name: state is field 3,
            # so utime, stime, cutime, cstime (fields 14-17) are [11:15].
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(x) for x in fields[11:15])
    return ticks / CLK_TCK


class MemorySampler(threading.Thread):
    """Samples the RSS (summed over each system's process tree) every 0.25 s and
    keeps the maximum per system and per phase; threads are counted too, and the
    /proc status fields in `extra` (e.g. RssAnon, kept as "rssanon_kib")."""

    def __init__(self, pids, extra=()):
        super().__init__(daemon=True)
        self.pids = pids
        self.extra = tuple(extra)
        self.phase = "start"
        self.peaks = {}  # phase -> system -> {"rss_kib", "threads", extra...}
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(0.25):
            phase, kids = self.phase, children_map()
            for system, pid in self.pids.items():
                sums = status_sums(pid, ("VmRSS", "Threads") + self.extra, kids)
                sums["rss_kib"], sums["threads"] = sums.pop("VmRSS"), sums.pop("Threads")
                for key in self.extra:
                    sums[f"{key.lower()}_kib"] = sums.pop(key)
                peak = self.peaks.setdefault(phase, {}).setdefault(system, dict.fromkeys(sums, 0))
                for key, value in sums.items():
                    peak[key] = max(peak[key], value)

    def max_rss(self, system):
        return max((p[system]["rss_kib"] for p in self.peaks.values() if system in p), default=0)


# ------------------------------------------------------------------ HTTP helpers


def fetch(url, accept=None, timeout=120):
    """GET url; returns (status, headers, body, final_url)."""
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read(), r.geturl()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read(), url


def file_links(page_url, body, content_type):
    """{filename: absolute URL} from an HTML or JSON project page."""
    links = {}
    if "json" in content_type:
        for f in json.loads(body)["files"]:
            links[f["filename"]] = urllib.parse.urljoin(page_url, f["url"]).split("#")[0]
    else:
        for href in re.findall(r'href="([^"]+)"', body.decode()):
            url = urllib.parse.urljoin(page_url, href.replace("&amp;", "&")).split("#")[0]
            links[urllib.parse.unquote(url.rsplit("/", 1)[-1])] = url
    return links


def run_wrk(url, conc, seconds, accept=None):
    threads = 1 if conc == 1 else 2
    argv = ["wrk", f"-t{threads}", f"-c{conc}", f"-d{seconds}s", "--timeout", "10s",
            "-s", str(BENCH / "wrk_json.lua")]
    if accept:
        argv += ["-H", f"Accept: {accept}"]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=seconds + 60)
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed on {url}: {out.stdout}\n{out.stderr}")
    raw = json.loads(line[len("WRK_JSON "):])
    secs = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    return {
        "requests": raw["requests"],
        "bytes": raw["bytes"],
        "rps": raw["requests"] / secs,
        "mb_per_s": raw["bytes"] / secs / 1e6,
        "p50_ms": raw["latency_us"]["p50"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000,
        "max_ms": raw["latency_us"]["max"] / 1000,
        "errors": errors,
        "error_detail": raw["errors"],
    }


async def slow_clients(url, n, seconds, should_stop):
    """n connections GET url at once and read it slowly: SLOW_READ bytes every
    SLOW_TICK seconds each, until `seconds` have passed or should_stop() is true.
    Every connection is closed before this returns. Per connection: the HTTP
    status (None if no response head came), body bytes read, and the error that
    ended it early, if any."""
    loop = asyncio.get_running_loop()
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    deadline = loop.time() + seconds

    def left():
        return max(0.01, deadline - loop.time())

    async def one():
        r = {"status": None, "bytes": 0, "error": None}
        sock, writer = socket.socket(), None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
            sock.setblocking(False)
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), left())
            # limit: the reader buffers at most about 2 × SLOW_READ before it stops
            # reading the socket, so the server is held back by TCP flow control.
            reader, writer = await asyncio.open_connection(sock=sock, limit=SLOW_READ)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), left())
            r["status"] = int(head.split(None, 2)[1])
            while loop.time() < deadline and not should_stop():
                chunk = await asyncio.wait_for(reader.read(SLOW_READ), left())
                if not chunk:
                    r["error"] = "closed by the server"
                    break
                r["bytes"] += len(chunk)
                await asyncio.sleep(SLOW_TICK)
        except asyncio.TimeoutError:
            # The time is up while waiting: for the connection or the response head
            # (a server that serves fewer clients at once queues the rest), or for data.
            r["error"] = "no data before the end" if r["status"] else "no response head before the end"
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            r["error"] = type(e).__name__
        finally:
            if writer is not None:
                writer.close()  # unread data left: the kernel resets the connection
            else:
                sock.close()
        return r

    tasks = [asyncio.create_task(one()) for _ in range(n)]
    # Every wait inside is bounded by the deadline; this bound is a second line.
    done, pending = await asyncio.wait(tasks, timeout=seconds + 15)
    for t in pending:
        t.cancel()
    results = [r if isinstance(r, dict) else {"status": None, "bytes": 0, "error": repr(r)}
               for r in await asyncio.gather(*tasks, return_exceptions=True)]
    await asyncio.sleep(0.2)  # let the transports' close callbacks run (they close the sockets)
    return results


def open_fds():
    return len(os.listdir("/proc/self/fd"))


# ------------------------------------------------------------------ the systems


class Bench:
    def __init__(self, args):
        self.args = args
        self.cache = Path(args.cache)
        self.work = self.cache / "run"
        self.fixture = self.cache / "fixture"
        self.manifest = json.loads((self.fixture / "manifest.json").read_text())
        self.venv = Path(args.venv)
        self.procs = Processes()
        self.pids = {}  # system -> root pid
        self.base = {}  # system -> base URL
        self.results = {}

    # --- start -------------------------------------------------------------

    def nginx_conf(self, name, server_block):
        d = self.work / name
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        temps = "\n".join(f"  {k}_temp_path {d}/tmp/{k};" for k in
                          ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = f"""user root;
worker_processes auto;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  log_format bench '$msec $request_method $uri $status $body_bytes_sent $request_time';
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  absolute_redirect off;
{temps}
{server_block}
}}
"""
        (d / "nginx.conf").write_text(conf)
        return d

    def start_all(self):
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        ports = {s: free_port() for s in SYSTEMS}
        for s, p in ports.items():
            self.base[s] = f"http://127.0.0.1:{p}"
        up = self.base["upstream"]
        upstream_simple = f"{up}/simple/"
        self.upstream_log = self.work / "upstream" / "access.log"

        # The fixture upstream (and the floor).
        d = self.nginx_conf("upstream", f"""
  server {{
    listen 127.0.0.1:{ports['upstream']};
    root {self.fixture / 'www'};
    index index.html;
    access_log {self.upstream_log} bench;
    location /packages/bench-cold/ {{ limit_rate {THROTTLE}; }}
  }}""")
        self.pids["upstream"] = self.procs.start(
            "upstream", ["nginx", "-p", str(d), "-c", str(d / "nginx.conf")], d / "stdout.log").pid

        # nginx proxy_cache in front of the upstream.
        d = self.nginx_conf("nginx", f"""
  proxy_cache_path {self.work}/nginx/cache levels=1:2 keys_zone=bench:10m max_size=20g
                   inactive=1d use_temp_path=off;
  server {{
    listen 127.0.0.1:{ports['nginx']};
    access_log {self.work}/nginx/access.log bench;
    location / {{
      proxy_pass {up};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_valid 200 1d;     # never expires during a run (an expired entry is refetched by every client at once)
      proxy_cache_lock on;          # coalesce misses: one upstream fetch per key
      proxy_cache_lock_timeout 120s;
      proxy_cache_lock_age 120s;
      add_header X-Cache-Status $upstream_cache_status;
    }}
  }}""")
        self.pids["nginx"] = self.procs.start(
            "nginx", ["nginx", "-p", str(d), "-c", str(d / "nginx.conf")], d / "stdout.log").pid

        # larder (its first stdout line says where it listens).
        d = self.work / "larder"
        d.mkdir()
        self.larder_out = d / "stdout.log"
        # Default logging (one INFO line per request to stderr) unless BENCH_LARDER_LOG is set.
        log_env = {"LARDER_LOG": os.environ["BENCH_LARDER_LOG"]} if os.environ.get("BENCH_LARDER_LOG") else {}
        self.pids["larder"] = self.procs.start(
            "larder", [self.args.larder, "serve", "--listen", f"127.0.0.1:{ports['larder']}",
                       "--cache-dir", str(d / "data"), "--upstream", upstream_simple],
            self.larder_out, cwd=d, env=log_env).pid

        # A second larder serving the fixture as a generic mirror (`--source`, the
        # short form: mounted at /), so /packages/<project>/<file> is a mirror file.
        # Not one of SYSTEMS: it joins only the warm file rows (issue 5).
        d = self.work / "larder-mirror"
        d.mkdir()
        self.larder_mirror_out = d / "stdout.log"
        self.mirror_proc = self.procs.start(
            "larder-mirror", [self.args.larder, "serve", "--listen", f"127.0.0.1:{free_port()}",
                              "--cache-dir", str(d / "data"), "--source", f"{up}/"],
            self.larder_mirror_out, cwd=d, env=log_env)

        # proxpi: one gunicorn worker with threads (its caches are per process).
        d = self.work / "proxpi"
        d.mkdir()
        self.pids["proxpi"] = self.procs.start(
            "proxpi", [str(self.venv / "bin/gunicorn"), "--bind", f"127.0.0.1:{ports['proxpi']}",
                       "--workers", "1", "--threads", "16", "proxpi.server:app"],
            d / "stdout.log", cwd=d,
            env={"PROXPI_INDEX_URL": upstream_simple, "PROXPI_CACHE_DIR": str(d / "cache")}).pid

        # devpi-server with a mirror index root/fixture whose mirror_url is the upstream.
        d = self.work / "devpi"
        d.mkdir()
        subprocess.run([str(self.venv / "bin/devpi-init"), "--serverdir", str(d / "server"),
                        "--no-root-pypi", "--root-passwd", "bench"],
                       check=True, capture_output=True, timeout=120)
        self.pids["devpi"] = self.procs.start(
            "devpi", [str(self.venv / "bin/devpi-server"), "--host", "127.0.0.1",
                      "--port", str(ports["devpi"]), "--serverdir", str(d / "server")],
            d / "stdout.log").pid

        wait_until("upstream", lambda: http_ok(f"{up}/simple/"), 30)
        wait_until("nginx", lambda: http_ok(self.base["nginx"] + "/simple/"), 30)
        wait_until("larder", lambda: "listening on" in self.larder_out.read_text(), 60)
        first = self.larder_out.read_text().splitlines()[0]  # "listening on http://ADDR"
        self.base["larder"] = first.split("listening on ", 1)[1].strip().rstrip("/")
        wait_until("larder-mirror", lambda: "listening on" in self.larder_mirror_out.read_text(), 60)
        first = self.larder_mirror_out.read_text().splitlines()[0]
        self.base["larder-mirror"] = first.split("listening on ", 1)[1].strip().rstrip("/")
        wait_until("proxpi", lambda: http_ok(self.base["proxpi"] + "/health"), 60)
        wait_until("devpi", lambda: http_ok(self.base["devpi"] + "/+api"), 120)
        client = ["env", f"DEVPI_CLIENTDIR={d / 'client'}", str(self.venv / "bin/devpi")]
        for cmd in (["use", self.base["devpi"]], ["login", "root", "--password", "bench"],
                    ["index", "-c", "root/fixture", "type=mirror", f"mirror_url={upstream_simple}"]):
            subprocess.run(client + cmd, check=True, capture_output=True, timeout=60)
        for s in SYSTEMS:
            log(f"{s}: {self.base[s]} (pid {self.pids[s]})")

    def page_url(self, system, project):
        base = self.base[system]
        if system == "devpi":
            return f"{base}/root/fixture/+simple/{project}/"
        if system == "proxpi":
            return f"{base}/index/{project}/"
        return f"{base}/simple/{project}/"

    # --- warm-up -----------------------------------------------------------

    def warm(self):
        """Fetch every page (HTML, JSON) and the benchmarked files once per system."""
        self.file_url = {}  # (system, project) -> URL of its (first) file
        self.answers = {}  # (system, project, fmt) -> what the page request answered
        projects = ["bench-small", "bench-big", "bench-1m", "bench-50m", "bench-cold"]
        if self.args.with_500m:
            projects.append("bench-500m")
        for system in SYSTEMS:
            for project in projects:
                url = self.page_url(system, project)
                for fmt, accept in (("html", HTML_ACCEPT), ("json", JSON_ACCEPT)):
                    status, headers, body, _ = fetch(url, accept)
                    if status != 200:
                        raise RuntimeError(f"{system}: {url} ({fmt}) answered {status}")
                    ctype = headers.get("Content-Type", "").split(";")[0]
                    self.answers[(system, project, fmt)] = {"content_type": ctype, "bytes": len(body)}
                    links = file_links(url, body, ctype)
                    want = self.manifest["projects"][project]["files"]
                    if len(links) != len(want):
                        raise RuntimeError(f"{system}: {url} lists {len(links)} files, want {len(want)}")
                    if fmt == "html":
                        self.file_url[(system, project)] = links[want[0]["name"]]
            for project in [p for p in projects if p not in ("bench-big", "bench-cold")]:
                self.warm_file(system, project)
        self.warm_mirror()

    def warm_mirror(self):
        """The benchmarked files through larder's generic mirror, once each (checked),
        then a second time: that one must not reach the upstream."""
        for project in self.file_projects():
            want = self.manifest["projects"][project]["files"][0]
            url = f"{self.base['larder-mirror']}/packages/{project}/{want['name']}"
            for attempt in range(2):
                offset = self.upstream_log_offset()
                status, _, body, _ = fetch(url)
                if status != 200 or hashlib.sha256(body).hexdigest() != want["sha256"]:
                    raise RuntimeError(f"larder mirror: {url} answered {status} or wrong bytes")
            time.sleep(0.2)
            again = self.upstream_requests_since(offset, f"/packages/{project}/")["total"]
            if again:
                raise RuntimeError(f"larder mirror: {url} reached the upstream again ({again}x)")
            self.file_url[("larder-mirror", project)] = url

    def file_projects(self):
        return ["bench-1m", "bench-50m"] + (["bench-500m"] if self.args.with_500m else [])

    def warm_file(self, system, project):
        url = self.file_url[(system, project)]
        want = self.manifest["projects"][project]["files"][0]
        # proxpi answers with a redirect to the upstream while its own download
        # takes longer than PROXPI_DOWNLOAD_TIMEOUT: retry until it serves the file.
        for attempt in range(10):
            status, headers, body, final = fetch(url)
            if status != 200 or hashlib.sha256(body).hexdigest() != want["sha256"]:
                raise RuntimeError(f"{system}: {url} answered {status} or wrong bytes")
            if final == url and (system != "nginx" or headers.get("X-Cache-Status") == "HIT"):
                return
            time.sleep(0.5)
        raise RuntimeError(f"{system}: {url} still not served from its cache")

    # --- warm scenarios ------------------------------------------------------

    def pid_of(self, system):
        return self.mirror_proc.pid if system == "larder-mirror" else self.pids[system]

    def measure_row(self, what, urls, conc, seconds, accept=None, cpu=False):
        """wrk against every system in `urls`, ROUNDS times with the order rotated
        each round (so drift from other work on the machine hits all systems
        alike); per system the median of the rounds.

        With cpu=True also the CPU time the system's processes used during each
        wrk run (only that system is loaded then), and per system the CPU seconds
        per GB (10^9 bytes) read by wrk over all rounds."""
        names = list(urls)
        rounds = {s: [] for s in names}
        for i in range(self.args.rounds):
            for s in names[i % len(names):] + names[:i % len(names)]:
                before = cpu_seconds(self.pid_of(s)) if cpu else None
                r = run_wrk(urls[s], conc, seconds, accept)
                if cpu:
                    r["cpu_s"] = cpu_seconds(self.pid_of(s)) - before
                rounds[s].append(r)
        out = {}
        for s in names:
            rs = rounds[s]
            med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
            out[s] = {"rps": med("rps"), "mb_per_s": med("mb_per_s"), "p50_ms": med("p50_ms"),
                      "p99_ms": med("p99_ms"), "max_ms": max(r["max_ms"] for r in rs),
                      "requests": sum(r["requests"] for r in rs), "errors": sum(r["errors"] for r in rs),
                      "bytes": sum(r["bytes"] for r in rs), "rounds": rs}
            r = out[s]
            cpu_txt = ""
            if cpu:
                r["cpu_s"] = sum(x["cpu_s"] for x in rs)
                r["cpu_s_per_gb"] = r["cpu_s"] / (r["bytes"] / 1e9) if r["bytes"] else None
                cpu_txt = f" cpu {r['cpu_s']:.2f} s" + (f" = {r['cpu_s_per_gb']:.3f} s/GB" if r["bytes"] else "")
            log(f"{what} {s}: {r['rps']:.1f} req/s {r['mb_per_s']:.0f} MB/s p50 {r['p50_ms']:.2f} ms"
                f" p99 {r['p99_ms']:.2f} ms errors {r['errors']}{cpu_txt}")
        return out

    def files_scenario(self):
        rows = []
        for project in self.file_projects():
            for conc in (1, 64):
                # larder-mirror: the same file through larder's generic mirror (issue 5),
                # in the same rotation as the package-file figures.
                urls = {s: self.file_url[(s, project)] for s in SYSTEMS + ["larder-mirror"]}
                rows.append({"project": project, "concurrency": conc,
                             "size_bytes": self.manifest["projects"][project]["files"][0]["size"],
                             "results": self.measure_row(f"file {project} c{conc}", urls, conc,
                                                         self.args.file_seconds, cpu=True)})
        self.results["files"] = rows

    def pages_scenario(self):
        rows = []
        for project in ("bench-big", "bench-small"):
            for fmt, accept in (("html", HTML_ACCEPT), ("json", JSON_ACCEPT)):
                for conc in (1, 64):
                    results, urls = {}, {}
                    for system in SYSTEMS:
                        answer = self.answers[(system, project, fmt)]
                        if fmt == "json" and "json" not in answer["content_type"]:
                            # Static HTML only (the upstream floor, nginx): same as the HTML run.
                            results[system] = {"answered": answer["content_type"], "skipped": True}
                        else:
                            urls[system] = self.page_url(system, project)
                    measured = self.measure_row(f"page {project} {fmt} c{conc}", urls, conc,
                                                self.args.page_seconds, accept)
                    for system, r in measured.items():
                        answer = self.answers[(system, project, fmt)]
                        results[system] = {**r, "answered": answer["content_type"], "body_bytes": answer["bytes"]}
                    rows.append({"project": project, "format": fmt, "concurrency": conc,
                                 "results": {s: results[s] for s in SYSTEMS}})
        self.results["pages"] = rows

    # --- cold coalescing -----------------------------------------------------

    def upstream_log_offset(self):
        return self.upstream_log.stat().st_size if self.upstream_log.exists() else 0

    def upstream_requests_since(self, offset, needle):
        with open(self.upstream_log, "rb") as f:
            f.seek(offset)
            lines = f.read().decode().splitlines()
        hits = [l.split() for l in lines if needle in l]
        return {"total": len(hits), "GET": sum(1 for h in hits if h[1] == "GET"),
                "HEAD": sum(1 for h in hits if h[1] == "HEAD")}

    @staticmethod
    def clients(url, n, timeout=120):
        """n transfers of url started at the same instant by one curl process;
        per client: ttfb, total, bytes, status, redirected.

        A compiled client, so that the clients' own start-up does not dominate the
        first-byte figures (32 Python threads did). `--parallel-immediate` makes
        curl open a connection per transfer right away instead of waiting to reuse
        one, so all n requests are in flight at once. curl times each transfer from
        its own start: ttfb is `time_starttransfer` (first response byte), total is
        `time_total`; both add up the hops when a redirect is followed (proxpi
        redirects to the upstream while it downloads).

        curl is one thread: it connects the transfers one after the other, and a
        transfer's clock runs while it waits its turn (for 32 transfers from about
        0.5 ms up to a few ms on a busy 2-core machine). So `sent_s`
        (`time_pretransfer`: the request is about to go out) is kept too; ttfb -
        sent_s is the time the server took to answer, without that wait."""
        fmt = ("CURL %{http_code} %{size_download} %{time_starttransfer} %{time_total}"
               " %{time_pretransfer} %{num_redirects} %{num_connects} %{exitcode} %{errormsg}\n")
        argv = ["curl", "--silent", "--location", "--max-time", str(timeout),
                "--parallel", "--parallel-immediate", "--parallel-max", str(n), "--write-out", fmt]
        for _ in range(n):
            argv += [url, "--output", "/dev/null"]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 30).stdout
        except subprocess.TimeoutExpired:
            out = ""
        results = []
        for line in out.splitlines():
            if not line.startswith("CURL "):
                continue
            code, size, ttfb, total, sent, redirects, connects, exitcode, *err = line.split()[1:]
            ok = exitcode == "0"
            results.append({
                "ttfb_s": float(ttfb) if ok else None, "total_s": float(total), "bytes": int(size),
                "sent_s": float(sent),
                "status": int(code) if ok else f"error: curl exit {exitcode} {' '.join(err)}".strip(),
                "redirected": int(redirects) > 0, "connects": int(connects),
            })
        # A transfer curl did not report on (it was killed at the timeout) counts as failed.
        return results + [{"status": "timeout"}] * (n - len(results))

    @staticmethod
    def summarize_clients(cl, size):
        ok = [c for c in cl if c.get("bytes") == size and c.get("status") == 200]
        return {
            "complete_clients": len(ok),
            "redirected_clients": sum(1 for c in cl if c.get("redirected")),
            "ttfb_max_s": max((c["ttfb_s"] for c in ok), default=None),
            "ttfb_median_s": statistics.median(c["ttfb_s"] for c in ok) if ok else None,
            "total_max_s": max((c["total_s"] for c in ok), default=None),
            "total_median_s": statistics.median(c["total_s"] for c in ok) if ok else None,
            # curl's own share: when the last request went out; and the server's:
            # first byte after the request was sent (see clients()).
            "sent_max_s": max((c["sent_s"] for c in ok), default=None),
            "wait_max_s": max((c["ttfb_s"] - c["sent_s"] for c in ok), default=None),
            "wait_median_s": statistics.median(c["ttfb_s"] - c["sent_s"] for c in ok) if ok else None,
            "failures": [c for c in cl if c not in ok][:3],
        }

    def cold_scenario(self):
        want = self.manifest["projects"]["bench-cold"]["files"][0]
        needle = "/packages/bench-cold/"
        direct_url = self.file_url[("upstream", "bench-cold")]
        direct = [self.clients(direct_url, 1)[0] for _ in range(2)]
        for d in direct:
            if d.get("bytes") != want["size"] or d.get("status") != 200:
                raise RuntimeError(f"direct cold download failed: {d}")
        res = {"clients": COLD_CLIENTS, "throttle": THROTTLE, "size_bytes": want["size"],
               "client": f"curl {curl_version()} --parallel --parallel-immediate",
               "direct": {"runs": direct,
                          "total_s": statistics.median(d["total_s"] for d in direct),
                          "ttfb_s": statistics.median(d["ttfb_s"] for d in direct),
                          "sent_s": statistics.median(d["sent_s"] for d in direct),
                          "wait_s": statistics.median(d["ttfb_s"] - d["sent_s"] for d in direct)},
               "results": {}}
        log(f"cold direct: total {res['direct']['total_s']:.2f} s ttfb {res['direct']['ttfb_s'] * 1000:.1f} ms")
        # The same 32 clients straight to the upstream (32 throttled connections):
        # what the client side alone costs when 32 transfers start at once.
        res["direct_all"] = self.summarize_clients(self.clients(direct_url, COLD_CLIENTS), want["size"])
        log(f"cold direct x{COLD_CLIENTS}: ttfb max {res['direct_all']['ttfb_max_s']}"
            f" (server wait max {res['direct_all']['wait_max_s']}) total max {res['direct_all']['total_max_s']}")
        for system in PROXIES:
            offset = self.upstream_log_offset()
            url = self.file_url[(system, "bench-cold")]
            cl = self.clients(url, COLD_CLIENTS)
            time.sleep(1.0)  # let the proxies finish writing; nginx logs at request end
            r = {"upstream_requests": self.upstream_requests_since(offset, needle),
                 **self.summarize_clients(cl, want["size"])}
            res["results"][system] = r
            log(f"cold {system}: upstream {r['upstream_requests']} complete {r['complete_clients']}/{COLD_CLIENTS}"
                f" ttfb max {r['ttfb_max_s']} (server wait max {r['wait_max_s']}) total max {r['total_max_s']}")
        self.results["cold"] = res

    # --- slow clients on the 500 MiB file --------------------------------------

    def slow_scenario(self):
        """SLOW_CLIENTS connections read the (warm) 500 MiB file slowly through each
        proxy in turn, for SLOW_SECONDS each, while the server's RSS (summed over
        its processes) is sampled every 0.25 s; then all are closed and the server
        must still answer."""
        project = "bench-500m"
        want = self.manifest["projects"][project]["files"][0]
        res = {"clients": SLOW_CLIENTS, "seconds": SLOW_SECONDS, "read_bytes": SLOW_READ, "tick_s": SLOW_TICK,
               "rcvbuf_bytes": SLOW_RCVBUF, "rss_limit_kib": SLOW_RSS_LIMIT_KIB, "size_bytes": want["size"],
               "results": {}}
        for system in PROXIES + ["larder-mirror"]:
            res["results"][system] = self.slow_one(system, project, want)
        self.results["slow"] = res

    def slow_one(self, system, project, want):
        pid = self.pid_of(system)
        if (system, project) not in self.file_url:
            # The warm-up fetched it (checked: served from the cache) when it ran
            # with --with-500m; this is for a fixture that gained it later.
            self.warm_file(system, project)
        url = self.file_url[(system, project)]
        fds = open_fds()
        offset = self.upstream_log_offset()
        rss_before = memory_kib(pid, "VmRSS")
        # RssAnon vs RssFile: heap and buffers, or pages of a mapped file.
        sampler = MemorySampler({system: pid}, extra=("RssAnon", "RssFile"))

        def peak(key="rss_kib"):
            return sampler.peaks.get("start", {}).get(system, {}).get(key, 0)

        sampler.start()
        started = time.monotonic()
        try:
            conns = asyncio.run(slow_clients(url, SLOW_CLIENTS, SLOW_SECONDS,
                                             lambda: peak() > SLOW_RSS_LIMIT_KIB))
        finally:
            sampler.stopped.set()
            sampler.join(timeout=5)
        elapsed = time.monotonic() - started
        time.sleep(1.0)
        statuses = collections.Counter(str(c["status"]) for c in conns)
        errors = collections.Counter(c["error"] for c in conns if c["error"])
        r = {
            "peak_rss_kib": max(peak(), rss_before),
            "rss_before_kib": rss_before,
            "rss_after_kib": memory_kib(pid, "VmRSS"),
            "peak_rss_anon_kib": peak("rssanon_kib"),
            "peak_rss_file_kib": peak("rssfile_kib"),
            "peak_threads": peak("threads"),
            "stopped_at_rss_limit": peak() > SLOW_RSS_LIMIT_KIB,
            "ok_200": sum(1 for c in conns if c["status"] == 200),
            "statuses": dict(statuses),
            "errors": dict(errors),
            "bytes": sum(c["bytes"] for c in conns),
            "seconds": round(elapsed, 2),
            "upstream_requests": self.upstream_requests_since(offset, f"/packages/{project}/"),
            "client_fds_left_open": max(0, open_fds() - fds),
            **self.health(system),
        }
        log(f"slow {system}: peak RSS {r['peak_rss_kib'] / 1024:.1f} MiB (before {rss_before / 1024:.1f},"
            f" anon {r['peak_rss_anon_kib'] / 1024:.1f}, file {r['peak_rss_file_kib'] / 1024:.1f},"
            f" {r['peak_threads']} threads)"
            f" 200s {r['ok_200']}/{SLOW_CLIENTS} {r['bytes'] / MIB:.0f} MiB read in {elapsed:.1f} s"
            f" statuses {r['statuses']} errors {r['errors']} healthy {r['healthy']}")
        return r

    def health(self, system, seconds=15):
        """After the slow clients: is the server alive, and does it serve a small
        file correctly within `seconds` (threaded servers may first have to notice
        that their clients went away)?"""
        want = self.manifest["projects"]["bench-small"]["files"][0]
        url = self.file_url.get((system, "bench-small")) or f"{self.base[system]}/packages/bench-small/{want['name']}"
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            try:
                status, _, body, _ = fetch(url, timeout=max(1, seconds - (time.monotonic() - started)))
                if status == 200 and hashlib.sha256(body).hexdigest() == want["sha256"]:
                    return {"healthy": True, "health_s": round(time.monotonic() - started, 2)}
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.5)
        try:
            state = Path(f"/proc/{self.pid_of(system)}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            state = "gone"
        return {"healthy": False, "health_s": None, "alive": state not in ("gone", "Z")}

    # --- the run ------------------------------------------------------------

    def memory(self, key):
        return {s: memory_kib(self.pids[s], key) for s in SYSTEMS}

    def versions(self):
        def out(argv):
            try:
                p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
                return (p.stdout + p.stderr).strip().splitlines()[0]
            except (OSError, IndexError, subprocess.TimeoutExpired):
                return None
        py = str(self.venv / "bin/python")
        rev = os.environ.get("LARDER_REV") or out(["git", "-C", str(REPO), "describe", "--always", "--dirty"])
        last = lambda s, sep=" ": s and s.split(sep)[-1]  # noqa: E731
        return {
            "larder": f"{last(out([self.args.larder, '--version']))} ({rev})",
            "nginx": last(out(["nginx", "-v"]), "/"),
            "devpi-server": out([str(self.venv / "bin/devpi-server"), "--version"]),
            "proxpi": out([py, "-c", "import importlib.metadata as m; print(m.version('proxpi'))"]),
            "gunicorn": out([py, "-c", "import importlib.metadata as m; print(m.version('gunicorn'))"]),
            "wrk": (out(["wrk", "-v"]) or "").split(" [")[0].removeprefix("wrk "),
            "curl": curl_version(),
        }

    def run(self):
        started = time.monotonic()
        self.start_all()
        time.sleep(1.0)
        idle = self.memory("VmRSS")
        log(f"idle RSS KiB: {idle}")
        sampler = MemorySampler(self.pids)
        sampler.start()
        only = self.args.only
        try:
            # The warm-up always runs: every scenario needs the file URLs and warm caches.
            for phase, step in (("warm-up", self.warm), ("files", self.files_scenario),
                                ("pages", self.pages_scenario)):
                if phase == "warm-up" or phase in only:
                    sampler.phase = phase
                    step()
            # Peak RSS so far: the larger of the sampled maximum of the summed
            # VmRSS and the summed VmHWM of the processes still alive.
            hwm = self.memory("VmHWM")
            peak_warm = {s: max(hwm[s], sampler.max_rss(s)) for s in SYSTEMS}
            if "cold" in only:
                sampler.phase = "cold"
                self.cold_scenario()
            hwm = self.memory("VmHWM")
            peak_all = {s: max(hwm[s], sampler.max_rss(s)) for s in SYSTEMS}
            sampler.phase = "after"
            time.sleep(2.0)
            idle_after = self.memory("VmRSS")
            # Last, as it leaves the servers with the most memory touched; it has
            # its own RSS sampling, so peak_all above stays "after the cold scenario".
            if "slow" in only:
                sampler.phase = "slow"
                self.slow_scenario()
        finally:
            sampler.stopped.set()
        self.results["rss_kib"] = {s: {"idle": idle[s], "peak_warm": peak_warm[s], "peak_all": peak_all[s],
                                       "idle_after_load": idle_after[s]} for s in SYSTEMS}
        self.results["rss_by_phase"] = sampler.peaks
        self.results["answers"] = [{"system": s, "project": p, "format": f, **a}
                                   for (s, p, f), a in self.answers.items()]
        self.results["meta"] = {
            "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "seconds": round(time.monotonic() - started),
            "machine": machine(),
            "versions": self.versions(),
            "file_seconds": self.args.file_seconds,
            "page_seconds": self.args.page_seconds,
            "rounds": self.args.rounds,
            "proxpi_threads": 16,
            "larder_log": os.environ.get("BENCH_LARDER_LOG") or "default",
            "systems": SYSTEMS,
            "scenarios": [x for x in SCENARIOS if x in only],
        }


def curl_version():
    try:
        out = subprocess.run(["curl", "--version"], capture_output=True, text=True, timeout=30).stdout
        return out.split()[1]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def machine():
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem_mib": mem, "kernel": platform.release()}


def main():
    ap = argparse.ArgumentParser(description="larder proxy benchmarks (see bench/run.sh)")
    ap.add_argument("--cache", required=True, help="bench cache dir (fixture/, venv/, run/)")
    ap.add_argument("--venv", required=True)
    ap.add_argument("--larder", required=True, help="larder binary")
    ap.add_argument("--out", default=str(BENCH / "results" / "proxy.json"))
    ap.add_argument("--file-seconds", type=int, default=int(os.environ.get("BENCH_FILE_SECONDS", 2)),
                    help="seconds per wrk run on a file")
    ap.add_argument("--page-seconds", type=int, default=int(os.environ.get("BENCH_PAGE_SECONDS", 2)),
                    help="seconds per wrk run on a page")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)),
                    help="wrk runs per system and figure (median reported)")
    ap.add_argument("--with-500m", action="store_true",
                    help="the fixture has bench-500m: a 500 MiB file in the warm file rows, and the slow-client scenario")
    ap.add_argument("--only", default=None,
                    help=f"comma-separated scenarios to run (of {','.join(SCENARIOS)}; default: all), "
                         "for development; the warm-up always runs")
    args = ap.parse_args()
    if args.only is None:
        # Everything; the slow-client scenario needs the 500 MiB file.
        args.only = [x for x in SCENARIOS if x != "slow" or args.with_500m]
    else:
        args.only = [x.strip() for x in args.only.split(",") if x.strip()]
        unknown = [x for x in args.only if x not in SCENARIOS]
        if unknown:
            ap.error(f"--only: unknown scenario(s) {unknown} (known: {', '.join(SCENARIOS)})")
        if "slow" in args.only and not args.with_500m:
            ap.error("--only slow needs --with-500m (the scenario reads the 500 MiB file)")
    raise_fd_limit(SLOW_CLIENTS * 2 + 1024)

    # SIGTERM (e.g. from the bash trap) unwinds like Ctrl-C, so `finally` stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(args)
    try:
        bench.run()
    finally:
        bench.procs.stop_all()
    Path(args.out).write_text(json.dumps(bench.results, indent=1))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
