"""Markdown for bench/results/proxy.json (used by bench/render.py)."""

LABEL = {
    "upstream": "upstream (floor)",
    "larder": "larder",
    "nginx": "nginx proxy_cache",
    "devpi": "devpi-server",
    "proxpi": "proxpi",
    "larder-mirror": "larder (mirror)",
}
OTHERS = ("devpi", "proxpi")  # "best other proxy" = the better of these two
MIB = 1024 * 1024


def num(x, digits=1):
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def ratio(a, b):
    return None if a is None or not b else a / b


def fr(r):
    return "–" if r is None else f"{r:.2f}×"


def mark(ok):
    if ok is None:
        return "–"
    return "reached" if ok else "**not reached**"


def size_label(n):
    return f"{n // MIB} MiB" if n >= MIB else f"{n} B"


def best_other(results, key, higher_is_better=True):
    vals = [(results[s][key], s) for s in OTHERS if s in results and results[s].get(key) is not None]
    if not vals:
        return None, None
    return max(vals) if higher_is_better else min(vals)


def ms(x):
    """Seconds as milliseconds; two decimals below 10 ms (first bytes on 127.0.0.1 take well under 1 ms)."""
    if x is None:
        return "–"
    return f"{x * 1000:.2f}" if x < 0.01 else f"{x * 1000:.1f}"


def sec(x):
    return "–" if x is None else f"{x:.2f}"


def mib(kib):
    return "–" if kib is None else f"{kib / 1024:.1f}"


def cpu_per_gb(rows, system):
    """CPU seconds per 10^9 bytes over the given warm file rows together (None if not measured)."""
    res = [r["results"].get(system) for r in rows]
    if not res or any(x is None or "cpu_s" not in x for x in res):
        return None
    served = sum(x["bytes"] for x in res)
    return sum(x["cpu_s"] for x in res) / (served / 1e9) if served else None


def by_size(files):
    """{size_bytes: [rows]} of the warm file rows, in their order."""
    out = {}
    for row in files:
        out.setdefault(row["size_bytes"], []).append(row)
    return out


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def section_files(d):
    """Warm file throughput, one column per system."""
    systems = d["meta"]["systems"]
    parts = []
    f_rows = []
    for row in d["files"]:
        res = row["results"]
        cells = [size_label(row["size_bytes"]), f"c{row['concurrency']}"]
        cells += [f"{num(res[s]['mb_per_s'])} MB/s · {num(res[s]['rps'])}/s" for s in systems]
        bo, bo_name = best_other(res, "mb_per_s")
        cells += [fr(ratio(res["larder"]["mb_per_s"], res["nginx"]["mb_per_s"])),
                  fr(ratio(res["larder"]["mb_per_s"], bo)) + (f" ({bo_name})" if bo_name else "")]
        errors = {s: res[s]["errors"] for s in systems if res[s]["errors"]}
        if errors:
            cells[-1] += f" — errors: {errors}"
        f_rows.append(cells)
    parts += [
        "### Warm file throughput",
        "",
        "Each file fetched once through the proxy first, then wrk. MB/s = 10⁶ bytes per second read by wrk; /s = complete responses per second.",
        "",
        table(["file", "conc."] + [LABEL[s] for s in systems] + ["larder / nginx", "larder / best other"], f_rows),
        "",
    ]
    return parts


def section_mirror(d):
    """The same files through larder's generic mirror (issue 5), next to the package files."""
    parts = []
    m_rows = []
    for row in d["files"]:
        res = row["results"]
        mir = res.get("larder-mirror")
        if not mir:
            continue
        err = f" ⚠ {mir['errors']} errors" if mir["errors"] else ""
        m_rows.append([size_label(row["size_bytes"]), f"c{row['concurrency']}",
                       f"{num(res['larder']['mb_per_s'])} MB/s · {num(res['larder']['rps'])}/s",
                       f"{num(mir['mb_per_s'])} MB/s · {num(mir['rps'])}/s{err}",
                       f"{num(res['nginx']['mb_per_s'])} MB/s",
                       fr(ratio(mir["mb_per_s"], res["larder"]["mb_per_s"])),
                       fr(ratio(mir["mb_per_s"], res["nginx"]["mb_per_s"]))])
    if m_rows:
        parts += [
            "### Warm generic-mirror file throughput",
            "",
            "A second larder, `larder serve --source http://127.0.0.1:UP/` (the `--source` short form: one "
            "generic mirror mounted at `/`), serves the same fixture files as plain paths "
            "(`/packages/<project>/<file>`). Each file was fetched through it twice first (the second time "
            "must not reach the upstream); then wrk, in the same rounds and rotation as the table above, so "
            "the columns compare directly.",
            "",
            table(["file", "conc.", "larder (package file)", "larder (mirror file)", "nginx proxy_cache",
                   "mirror / package file", "mirror / nginx"], m_rows),
            "",
        ]
    return parts


def section_pages(d):
    """Warm index pages: requests per second and latency."""
    meta, systems = d["meta"], d["meta"]["systems"]
    parts = []
    p_rows, l_rows = [], []
    nginx_html = {(r["project"], r["concurrency"]): r["results"]["nginx"].get("rps")
                  for r in d["pages"] if r["format"] == "html"}
    for row in d["pages"]:
        res = row["results"]
        head = [row["project"], row["format"].upper(), f"c{row['concurrency']}"]
        cells, lat = list(head), list(head)
        for s in systems:
            r = res[s]
            if r.get("skipped"):
                cells.append("(HTML only)")
                lat.append("(HTML only)")
                continue
            note = "" if (row["format"] == "json") == ("json" in r["answered"]) else f" ({r['answered']})"
            err = f" ⚠ {r['errors']} errors" if r["errors"] else ""
            if r["requests"] == 0 or r["rps"] == 0:
                cells.append(f"0 (no response within {meta['page_seconds']} s){err}")
                lat.append("–")
                continue
            cells.append(f"{num(r['rps'])}{note}{err}")
            lat.append(f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f}")
        ng = nginx_html[(row["project"], row["concurrency"])]
        bo, bo_name = best_other(res, "rps")
        larder = res["larder"].get("rps")
        cells += [fr(ratio(larder, ng)), fr(ratio(larder, bo)) + (f" ({bo_name})" if bo_name else ""),
                  fr(ratio(larder, res["proxpi"].get("rps")))]
        p_rows.append(cells)
        l_rows.append(lat)
    parts += [
        "### Warm index pages: requests per second",
        "",
        "`bench-big` has 3,000 file links, `bench-small` 5. JSON = `Accept: application/vnd.pypi.simple.v1+json`. "
        "The upstream and nginx serve the static HTML whatever is asked, so their JSON cells are not run and "
        "larder's JSON figures are compared with nginx's HTML figure for the same page.",
        "",
        table(["page", "format", "conc."] + [LABEL[s] for s in systems]
              + ["larder / nginx", "larder / best other", "larder / proxpi"], p_rows),
        "",
        "Latency p50 / p99 in ms (wrk):",
        "",
        table(["page", "format", "conc."] + [LABEL[s] for s in systems], l_rows),
        "",
    ]
    return parts


def section_cold(d):
    """Cold coalescing: many clients start one uncached file at once."""
    systems = d["meta"]["systems"]
    c = d["cold"]
    direct = c["direct"]
    n = c["clients"]
    curl = "curl" in c.get("client", "")
    # Columns for curl's figures: when the last request went out, and the server's
    # own wait (first byte after the request was sent); older runs have neither.
    extra = (lambda r: [ms(r.get("sent_max_s")), ms(r.get("wait_max_s"))]) if curl else (lambda r: [])
    c_rows = [["direct from upstream (1 client)", "1", "1/1", ms(direct["ttfb_s"]), ms(direct["ttfb_s"])]
              + extra({"sent_max_s": direct.get("sent_s"), "wait_max_s": direct.get("wait_s")})
              + [sec(direct["total_s"]), sec(direct["total_s"]), "1.00×", "1.00×"]]
    da = c.get("direct_all")
    if da:
        c_rows.append([f"direct from upstream ({n} clients)", str(n),
                       f"{da['complete_clients']}/{n}", ms(da["ttfb_median_s"]), ms(da["ttfb_max_s"])]
                      + extra(da)
                      + [sec(da["total_median_s"]), sec(da["total_max_s"]),
                         fr(ratio(da["ttfb_max_s"], direct["ttfb_s"])), fr(ratio(da["total_max_s"], direct["total_s"]))])
    for s in [x for x in systems if x in c["results"]]:
        r = c["results"][s]
        up = r["upstream_requests"]
        up_txt = f"{up['GET']}" + (f" (+{up['HEAD']} HEAD)" if up["HEAD"] else "")
        done = f"{r['complete_clients']}/{n}"
        if r["redirected_clients"]:
            done += f" ({r['redirected_clients']} redirected to the upstream)"
        c_rows.append([LABEL[s], up_txt, done, ms(r["ttfb_median_s"]), ms(r["ttfb_max_s"])] + extra(r)
                      + [sec(r["total_median_s"]), sec(r["total_max_s"]),
                         fr(ratio(r["ttfb_max_s"], direct["ttfb_s"])), fr(ratio(r["total_max_s"], direct["total_s"]))])
    if curl:
        how = (f"The clients are {n} transfers of one `{c['client']}` process (each on its own connection, "
               "all started at once). Times are per transfer from its own start (curl's `time_starttransfer`: "
               "first response byte; `time_total`). curl connects the transfers one after the other in its "
               "single thread, and a transfer's clock runs while it waits its turn: *last request sent* is when "
               "the last of them had its request ready to go, *server wait max* the longest time from a "
               "request being sent to its first response byte (`time_starttransfer − time_pretransfer`), "
               f"which leaves that client-side wait out. The second row, {n} transfers straight to the upstream "
               f"({n} connections, each throttled), shows what the client side costs by itself.")
        head = ["last request sent (ms)", "server wait max (ms)"]
    else:
        how = (f"Times are per client from its own start. The second row, {n} clients straight to the upstream "
               f"({n} connections, each throttled), shows what {n} Python client threads starting at once cost "
               "on this machine by themselves.")
        head = []
    return [
        "### Cold coalescing",
        "",
        f"{n} clients start the same uncached {size_label(c['size_bytes'])} file at the same instant; "
        f"the upstream sends it at `limit_rate {c['throttle']}` (per connection). Upstream requests are counted "
        "in the upstream's access log. " + how,
        "",
        table(["system", "upstream GETs", "complete", "first byte p50 (ms)", "first byte max (ms)"] + head
              + ["total p50 (s)", "total max (s)", "first byte max / direct", "total max / direct"], c_rows),
        "",
    ]


def section_cpu(d):
    """CPU seconds per GB served during the warm file rows."""
    systems = d["meta"]["systems"] + (["larder-mirror"] if "larder-mirror" in d["files"][0]["results"] else [])
    if cpu_per_gb(d["files"], "larder") is None:
        return []  # a run from before CPU time was recorded
    cell = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
    rows = []
    for size, size_rows in by_size(d["files"]).items():
        # One line per concurrency, then both together (the figure the target uses).
        for label, group in [(f"c{r['concurrency']}", [r]) for r in size_rows] + [("all", size_rows)]:
            per = {s: cpu_per_gb(group, s) for s in systems}
            cells = [size_label(size), label if label != "all" else "**all**"] + [cell(per[s]) for s in systems]
            cells.append(fr(ratio(per["larder"], per["nginx"])))
            if "larder-mirror" in per:
                cells.append(fr(ratio(per["larder-mirror"], per["nginx"])))
            rows.append(cells)
    head = ["file", "conc."] + [LABEL[s] for s in systems] + ["larder / nginx"]
    if "larder-mirror" in systems:
        head.append("mirror / nginx")
    return [
        "### CPU per GB served (warm files)",
        "",
        "CPU time (user + system, from `/proc/PID/stat`, summed over each server's processes) that a server "
        "used during its own wrk runs of the warm file table above, divided by the bytes wrk read "
        "(GB = 10⁹ bytes), all rounds together: CPU seconds per GB served, lower is better. Only the server "
        "under load runs meanwhile; wrk's own CPU is not counted. *all* pools both concurrencies of a file size.",
        "",
        table(head, rows),
        "",
    ]


def section_memory(d):
    """RSS per system: idle, peaks, per phase."""
    systems = d["meta"]["systems"]
    parts = []
    rss = d["rss_kib"]
    mem_rows = []
    for s in systems:
        r = rss[s]
        mem_rows.append([LABEL[s]] + [f"{r[k] / 1024:.1f}" for k in ("idle", "peak_warm", "peak_all", "idle_after_load")])
    for key, what in (("peak_warm", "larder peak (warm) ratio"), ("idle", "larder idle ratio")):
        bo = min(rss[s][key] for s in OTHERS)
        mem_rows.append([f"*{what}*: to nginx {fr(ratio(rss['larder'][key], rss['nginx'][key]))}, "
                         f"to best other {fr(ratio(rss['larder'][key], bo))}", "", "", "", ""])
    phases = d.get("rss_by_phase", {})
    ph_rows = []
    for s in systems:
        ph_rows.append([LABEL[s]] + [
            (f"{phases[p][s]['rss_kib'] / 1024:.1f} MiB, {phases[p][s]['threads']} thr."
             if p in phases and s in phases[p] else "–")
            for p in ("warm-up", "files", "pages", "cold")])
    parts += [
        "### Memory (MiB)",
        "",
        "RSS summed over each server's processes (nginx: master and workers; proxpi: gunicorn master and "
        "its worker), so shared pages of multi-process servers count more than once. *idle*: after start-up, "
        "before any request; *peak (warm)*: the larger of the summed VmHWM and the sampled maximum "
        "(every 0.25 s) after the warm file and page scenarios; *peak (all)*: the same after the cold scenario; "
        "*idle after load*: 2 s after the last request"
        + (" of the cold scenario (the slow clients below come after it)." if d.get("slow") else "."),
        "",
        table(["system", "idle", "peak (warm)", "peak (all)", "idle after load"], mem_rows),
        "",
        "Largest sampled RSS and thread count per phase:",
        "",
        table(["system", "warm-up", "warm files", "warm pages", "cold"], ph_rows),
        "",
    ]
    return parts


def section_slow(d):
    """Many slow clients on the largest file: memory, and who got served."""
    sl = d["slow"]
    n = sl["clients"]
    rows = []
    for s, r in sl["results"].items():
        others = [f"{k} {v}" for k, v in r["statuses"].items() if k not in ("200", "None")]
        others += [f"{v}: {k}" for k, v in r["errors"].items()]
        up = r["upstream_requests"]["GET"]
        health = "yes" if r["healthy"] else ("**no**" + ("" if r.get("alive", True) else " (exited)"))
        if r["healthy"] and (r.get("health_s") or 0) >= 0.5:
            health += f" (after {r['health_s']:.1f} s)"
        peak = f"{r['peak_rss_kib'] / 1024:.1f}" + (" (stopped at the limit)" if r["stopped_at_rss_limit"] else "")
        rows.append([LABEL[s], f"{r['ok_200']}/{n}", "; ".join(others) or "–",
                     f"{r['bytes'] / MIB:,.0f}", peak,
                     f"{mib(r.get('peak_rss_anon_kib'))} / {mib(r.get('peak_rss_file_kib'))}",
                     f"{r['rss_before_kib'] / 1024:.1f} → {r['rss_after_kib'] / 1024:.1f}",
                     str(r.get("peak_threads", "–")), str(up), health])
    return [
        f"### {n} slow clients on the {size_label(sl['size_bytes'])} file",
        "",
        f"After the other scenarios, {n} connections at once (one asyncio loop) each send a GET for the warm "
        f"{size_label(sl['size_bytes'])} file and then read {sl['read_bytes'] // 1024} KiB every "
        f"{sl['tick_s']} s (about {sl['read_bytes'] / sl['tick_s'] / 1e6:.2f} MB/s each; socket receive buffer "
        f"set to {sl['rcvbuf_bytes'] // 1024} KiB), for {sl['seconds']} s per system in turn; then all are "
        "closed. *peak RSS*: the largest RSS summed over the server's processes, sampled every 0.25 s "
        "meanwhile (*anon*: heap and buffers; *file*: mapped file pages; each is its own maximum); "
        "*served*: connections that got a `200` response head; *received*: body bytes read by all clients; "
        "*upstream GETs*: requests for the file that reached the upstream meanwhile (0: served from the cache); "
        "*healthy after*: the server then serves a small file correctly within 15 s. "
        f"A server whose RSS passes {sl['rss_limit_kib'] // 1024:,} MiB is stopped early.",
        "",
        table(["system", "served", "other outcomes", "received (MiB)", "peak RSS (MiB)", "anon / file (MiB)",
               "RSS before → after (MiB)", "threads", "upstream GETs", "healthy after"], rows),
        "",
    ]


def render_proxy(d):
    meta = d["meta"]
    m, v = meta["machine"], meta["versions"]
    parts = [
        f"Measured {meta['generated']} in one run of `bench/run.sh` ({meta['seconds']} s): "
        f"{m['cpus']} CPUs ({m['cpu_model']}), {m['mem_mib']:,} MiB RAM, kernel {m['kernel']}. "
        f"Each wrk figure is the median of {meta.get('rounds', 1)} runs ({meta['file_seconds']} s each for files, "
        f"{meta['page_seconds']} s for pages), the systems taking turns.",
        "",
        "Versions: " + "; ".join(f"{k} {val}" for k, val in v.items() if val) + ". "
        f"larder logging: {meta.get('larder_log', 'default')}.",
        "",
    ]

    if d.get("files"):
        parts += section_files(d) + section_mirror(d) + section_cpu(d)
    if d.get("pages"):
        parts += section_pages(d)
    if d.get("cold"):
        parts += section_cold(d)
    parts += section_memory(d)
    if d.get("slow"):
        parts += section_slow(d)
    # ---- targets
    parts += ["### Targets", "", table(["target", "measured", ""], targets(d)), ""]
    return "\n".join(parts).rstrip()


def targets(d):
    rows = []
    files = {(r["project"], r["concurrency"]): r["results"] for r in d.get("files", [])}
    for project, label in (("bench-1m", "1 MiB"), ("bench-50m", "50 MiB")):
        for conc in (1, 64):
            res = files.get((project, conc))
            if res:
                r = ratio(res["larder"]["mb_per_s"], res["nginx"]["mb_per_s"])
                rows.append([f"warm file {label} c{conc}: ≥ 0.9× nginx proxy_cache", fr(r), mark(r >= 0.9)])
    for project, label in (("bench-1m", "1 MiB"), ("bench-50m", "50 MiB")):
        for conc in (1, 64):
            res = files.get((project, conc))
            if res and "larder-mirror" in res:
                r = ratio(res["larder-mirror"]["mb_per_s"], res["nginx"]["mb_per_s"])
                rows.append([f"warm mirror file {label} c{conc}: ≥ 0.9× nginx proxy_cache", fr(r), mark(r >= 0.9)])
    res = files.get(("bench-1m", 64))
    if res:
        bo, name = best_other(res, "mb_per_s")
        r = ratio(res["larder"]["mb_per_s"], bo)
        rows.append([f"warm file 1 MiB c64: ≥ 2× best other proxy ({name})", fr(r), mark(r >= 2)])
    rows += cpu_targets(d.get("files", []))

    pages = {(r["project"], r["format"], r["concurrency"]): r["results"] for r in d.get("pages", [])}
    for conc in (1, 64):
        res = pages.get(("bench-big", "html", conc))
        if res:
            r = ratio(res["larder"]["rps"], res["nginx"]["rps"])
            rows.append([f"3,000-file page HTML c{conc}: ≥ 0.7× nginx req/s", fr(r), mark(r >= 0.7)])
    for fmt in ("html", "json"):
        for conc in (1, 64):
            res = pages.get(("bench-big", fmt, conc))
            if res and "rps" in res["proxpi"]:
                r = ratio(res["larder"]["rps"], res["proxpi"]["rps"])
                rows.append([f"3,000-file page {fmt.upper()} c{conc}: ≥ 40× proxpi req/s", fr(r), mark(r >= 40)])
    for conc in (1, 64):
        res = pages.get(("bench-small", "html", conc))
        if res:
            r = ratio(res["larder"]["rps"], res["nginx"]["rps"])
            rows.append([f"small page HTML c{conc}: ≥ 0.8× nginx req/s", fr(r), mark(r >= 0.8)])
    for fmt in ("html", "json"):
        res = pages.get(("bench-small", fmt, 1))
        if res:
            p99 = res["larder"]["p99_ms"]
            rows.append([f"small page {fmt.upper()} c1: p99 ≤ 5 ms", f"{p99:.2f} ms", mark(p99 <= 5)])

    rows += cold_targets(d.get("cold"))

    rss = d["rss_kib"]["larder"]
    rows.append(["peak RSS (warm) ≤ 40 MiB", f"{rss['peak_warm'] / 1024:.1f} MiB", mark(rss["peak_warm"] <= 40 * 1024)])
    rows.append(["idle RSS ≤ 20 MiB", f"{rss['idle'] / 1024:.1f} MiB", mark(rss["idle"] <= 20 * 1024)])
    slow = d.get("slow")
    if slow and "larder" in slow["results"]:
        r, n = slow["results"]["larder"], slow["clients"]
        peak = r["peak_rss_kib"] / 1024
        # Only a figure for n clients if all n were being served.
        rows.append([f"peak RSS with {n} slow clients on the {size_label(slow['size_bytes'])} file ≤ 64 MiB",
                     f"{peak:.1f} MiB ({r['ok_200']}/{n} served)", mark(peak <= 64 and r["ok_200"] == n)])
    return rows


def cpu_targets(files):
    """CPU seconds per GB served ≤ 1.5× nginx proxy_cache, per file size (both concurrencies)."""
    rows = []
    for size, size_rows in by_size(files).items():
        ng = cpu_per_gb(size_rows, "nginx")
        for system, what in (("larder", ""), ("larder-mirror", "mirror file ")):
            mine = cpu_per_gb(size_rows, system)
            if mine is None or ng is None:
                continue
            r = ratio(mine, ng)
            rows.append([f"CPU seconds per GB served, {what}{size_label(size)} (c1 + c64): ≤ 1.5× nginx proxy_cache",
                         f"{fr(r)} ({mine:.3f} vs {ng:.3f} s/GB)", mark(r is not None and r <= 1.5)])
    return rows


def cold_targets(c):
    if not c:
        return []
    rows = []
    r = c["results"]["larder"]
    up = r["upstream_requests"]["total"]
    rows.append(["cold: exactly 1 upstream request", str(up), mark(up == 1)])
    complete = r["complete_clients"] == c["clients"]
    tr = ratio(r["total_max_s"], c["direct"]["total_s"])
    rows.append(["cold: every client done within 1.2× a direct download",
                 f"{fr(tr)} ({r['complete_clients']}/{c['clients']} complete)",
                 mark(complete and tr is not None and tr <= 1.2)])
    fb = ratio(r["ttfb_max_s"], c["direct"]["ttfb_s"])
    rows.append(["cold: every first byte within 1.5× a direct download's",
                 f"{fr(fb)} ({ms(r['ttfb_max_s'])} ms vs {ms(c['direct']['ttfb_s'])} ms)"
                 if r["ttfb_max_s"] is not None else "–",
                 mark(fb is not None and fb <= 1.5)])
    da = c.get("direct_all")
    if da and da.get("ttfb_max_s") and r["ttfb_max_s"] is not None:
        fb32 = ratio(r["ttfb_max_s"], da["ttfb_max_s"])
        rows.append([f"(for comparison) first byte max vs {c['clients']} clients straight to the upstream",
                     f"{fr(fb32)} ({ms(r['ttfb_max_s'])} ms vs {ms(da['ttfb_max_s'])} ms)",
                     mark(fb32 <= 1.5)])
    if r.get("wait_max_s") is not None and c["direct"].get("wait_s"):
        rows.append(["(for comparison) server wait max (first byte after the request was sent) vs a direct download's",
                     f"{fr(ratio(r['wait_max_s'], c['direct']['wait_s']))} "
                     f"({ms(r['wait_max_s'])} ms vs {ms(c['direct']['wait_s'])} ms)",
                     mark(r["wait_max_s"] <= 1.5 * c["direct"]["wait_s"])])
    return rows
