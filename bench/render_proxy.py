"""Markdown for bench/results/proxy.json (used by bench/render.py)."""

LABEL = {
    "upstream": "upstream (floor)",
    "larder": "larder",
    "nginx": "nginx proxy_cache",
    "devpi": "devpi-server",
    "proxpi": "proxpi",
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


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def render_proxy(d):
    meta = d["meta"]
    systems = meta["systems"]
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

    # ---- warm files
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

    # ---- warm mirror files (issue 5): the same files through larder's generic mirror
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

    # ---- warm pages
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

    # ---- cold coalescing
    c = d["cold"]
    direct = c["direct"]
    c_rows = [["direct from upstream (1 client)", "1", "1/1",
               f"{direct['ttfb_s'] * 1000:.1f}", f"{direct['ttfb_s'] * 1000:.1f}",
               f"{direct['total_s']:.2f}", f"{direct['total_s']:.2f}", "1.00×", "1.00×"]]
    ms = lambda x: "–" if x is None else f"{x * 1000:.1f}"  # noqa: E731
    sec = lambda x: "–" if x is None else f"{x:.2f}"  # noqa: E731
    da = c.get("direct_all")
    if da:
        c_rows.append([f"direct from upstream ({c['clients']} clients)", str(c["clients"]),
                       f"{da['complete_clients']}/{c['clients']}", ms(da["ttfb_median_s"]), ms(da["ttfb_max_s"]),
                       sec(da["total_median_s"]), sec(da["total_max_s"]),
                       fr(ratio(da["ttfb_max_s"], direct["ttfb_s"])), fr(ratio(da["total_max_s"], direct["total_s"]))])
    for s in [x for x in systems if x in c["results"]]:
        r = c["results"][s]
        up = r["upstream_requests"]
        up_txt = f"{up['GET']}" + (f" (+{up['HEAD']} HEAD)" if up["HEAD"] else "")
        done = f"{r['complete_clients']}/{c['clients']}"
        if r["redirected_clients"]:
            done += f" ({r['redirected_clients']} redirected to the upstream)"
        c_rows.append([LABEL[s], up_txt, done, ms(r["ttfb_median_s"]), ms(r["ttfb_max_s"]),
                       sec(r["total_median_s"]), sec(r["total_max_s"]),
                       fr(ratio(r["ttfb_max_s"], direct["ttfb_s"])), fr(ratio(r["total_max_s"], direct["total_s"]))])
    parts += [
        "### Cold coalescing",
        "",
        f"{c['clients']} clients start the same uncached {size_label(c['size_bytes'])} file at the same instant; "
        f"the upstream sends it at `limit_rate {c['throttle']}` (per connection). Upstream requests are counted "
        "in the upstream's access log. Times are per client from its own start. The second row, 32 clients "
        "straight to the upstream (32 connections, each throttled), shows what 32 Python client threads "
        "starting at once cost on this machine by themselves.",
        "",
        table(["system", "upstream GETs", "complete", "first byte p50 (ms)", "first byte max (ms)",
               "total p50 (s)", "total max (s)", "first byte max / direct", "total max / direct"], c_rows),
        "",
    ]

    # ---- memory
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
        "*idle after load*: 2 s after the last request.",
        "",
        table(["system", "idle", "peak (warm)", "peak (all)", "idle after load"], mem_rows),
        "",
        "Largest sampled RSS and thread count per phase:",
        "",
        table(["system", "warm-up", "warm files", "warm pages", "cold"], ph_rows),
        "",
    ]

    # ---- targets
    parts += ["### Targets", "", table(["target", "measured", ""], targets(d)), ""]
    return "\n".join(parts).rstrip()


def targets(d):
    rows = []
    files = {(r["project"], r["concurrency"]): r["results"] for r in d["files"]}
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

    pages = {(r["project"], r["format"], r["concurrency"]): r["results"] for r in d["pages"]}
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

    c = d["cold"]
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
                 f"{fr(fb)} ({r['ttfb_max_s'] * 1000:.1f} ms vs {c['direct']['ttfb_s'] * 1000:.1f} ms)"
                 if r["ttfb_max_s"] is not None else "–",
                 mark(fb is not None and fb <= 1.5)])
    da = c.get("direct_all")
    if da and da.get("ttfb_max_s") and r["ttfb_max_s"] is not None:
        fb32 = ratio(r["ttfb_max_s"], da["ttfb_max_s"])
        rows.append([f"(for comparison) first byte max vs {c['clients']} clients straight to the upstream",
                     f"{fr(fb32)} ({r['ttfb_max_s'] * 1000:.1f} ms vs {da['ttfb_max_s'] * 1000:.1f} ms)",
                     mark(fb32 <= 1.5)])

    rss = d["rss_kib"]["larder"]
    rows.append(["peak RSS (warm) ≤ 40 MiB", f"{rss['peak_warm'] / 1024:.1f} MiB", mark(rss["peak_warm"] <= 40 * 1024)])
    rows.append(["idle RSS ≤ 20 MiB", f"{rss['idle'] / 1024:.1f} MiB", mark(rss["idle"] <= 20 * 1024)])
    return rows
