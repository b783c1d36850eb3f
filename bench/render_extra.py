"""Markdown for bench/results/{warm,clients,startup}.json (used by bench/render.py)."""

from render_proxy import LABEL, fr, mark, ratio, table


def head(m, what):
    mm = m["machine"]
    return (f"Measured {m['generated']} by `bench/extra.py {what}` ({m['seconds']} s): {mm['cpus']} CPUs "
            f"({mm['cpu_model']}), kernel {mm['kernel']}; larder {m['larder']}.")


def ups(u):
    txt = f"{u['total']} ({u['pages']} pages, {u['files']} files"
    txt += f", {u['other']} other)" if u["other"] else ")"
    bad = {k: v for k, v in u["status"].items() if not k.startswith("2")}
    return txt + (f" — statuses {bad}" if bad else "")


# ---------------------------------------------------------------- larder warm


def render_warm(d):
    rounds = d["rounds"]
    rows = []
    for i, r in enumerate(rounds):
        for phase in ("cold", "warm"):
            x = r[phase]
            counts = ", ".join(f"{k} {v}" for k, v in sorted(x["report_counts"].items())) or "–"
            rows.append([f"{i + 1}", phase, f"{x['wall_s']:.2f}", str(x["exit"]), ups(x["upstream"]), counts])
    cold = [r["cold"]["upstream"] for r in rounds]
    warm = [r["warm"]["upstream"] for r in rounds]
    n, files = d["projects"], d["files"]
    once = all(u["pages"] == n and u["files"] == files for u in cold)
    nofiles = all(u["files"] == 0 for u in warm)
    ok_exit = all(r[p]["exit"] == 0 for r in rounds for p in ("cold", "warm"))
    t = [
        ["cold: every page and every file fetched exactly once "
         f"({n} pages + {files} files)", " / ".join(f"{u['pages']} + {u['files']}" for u in cold), mark(once)],
        ["warm: no file fetched again", " / ".join(str(u["files"]) for u in warm), mark(nofiles)],
        ["exit code 0 every time", ", ".join(str(r[p]["exit"]) for r in rounds for p in ("cold", "warm")),
         mark(ok_exit)],
    ]
    return "\n".join([
        head(d["meta"], "warm"),
        "",
        f"`larder warm -r req-100.txt --cache-dir D --upstream http://127.0.0.1:UP/simple/ --json`: {n} projects "
        f"pinned `==1.0.0`, each with one wheel and one sdist ({files} files of a few hundred bytes, correct "
        "`#sha256=`), served by nginx from `bench/fixture.py --many`. *cold*: an empty cache dir; *warm*: the "
        f"same command again on the same cache dir. {len(rounds)} rounds, each with a fresh cache dir. Upstream "
        "requests are counted in nginx's access log; the last column counts the entries of the `--json` report "
        "by list and status.",
        "",
        table(["round", "run", "wall time (s)", "exit", "upstream requests", "report"], rows),
        "",
        f"Median wall time: cold {d['cold_wall_s']:.2f} s, warm {d['warm_wall_s']:.2f} s "
        f"(warm / cold {fr(ratio(d['warm_wall_s'], d['cold_wall_s']))}).",
        "",
        table(["expectation", "measured", ""], t),
    ])


# ---------------------------------------------------------------- real clients


def render_clients(d):
    parts = [head(d["meta"], "clients"), "",
             f"`pip install --target T bench-w000==1.0.0` and `uv pip install --target T …` (pip "
             f"{d['versions']['pip']}, uv {d['versions']['uv']}, no client cache: `--no-cache-dir` / `--no-cache`) "
             f"of a {d['chain']}-deep dependency chain of tiny synthetic wheels (bench-w000 requires bench-w001, … "
             "up to bench-w029; no PEP 658 metadata, so every wheel is downloaded to read its dependencies). "
             "Each system is pointed at the fixture upstream with a fresh cache; *cold* is the first install "
             "through it, *warm* the median of 3 more. *floor*: `--no-index --find-links DIR` with the same "
             "wheels on disk; *static index*: the fixture's nginx asked directly (what a proxy sits in front of). "
             "Upstream requests are counted in the fixture nginx's access log (cold; warm: the sum over the "
             "3 warm runs).",
             ""]
    targets = []
    for client, out in d["clients"].items():
        floor = out["floor"]["warm_s"]
        rows = [["floor (`--find-links`)", "–", f"{floor:.2f}", "1.00×", "–", "–",
                 str(out["floor"]["warm"][0]["installed"])]]
        for s in ["upstream", "larder", "nginx", "devpi", "proxpi"]:
            r = out.get(s)
            if not r:
                continue
            warm_up = {"pages": sum(u["pages"] for u in r["warm_upstream"]),
                       "files": sum(u["files"] for u in r["warm_upstream"])}
            label = "static index (nginx, direct)" if s == "upstream" else LABEL[s]
            fails = [x for x in [r["cold"]] + r["warm"] if x["exit"] != 0]
            rows.append([label, f"{r['cold']['wall_s']:.2f}" + (" ⚠ exit " + str(r["cold"]["exit"]) if r["cold"]["exit"] else ""),
                         f"{r['warm_s']:.2f}" + (f" ⚠ {len(fails)} failed" if fails else ""),
                         fr(ratio(r["warm_s"], floor)),
                         f"{r['cold_upstream']['pages']} + {r['cold_upstream']['files']}"
                         if s != "upstream" else "(direct)",
                         f"{warm_up['pages']} + {warm_up['files']}" if s != "upstream" else "(direct)",
                         str(r["cold"]["installed"])])
        parts += [f"**{client}**", "",
                  table(["system", "cold (s)", "warm median (s)", "warm / floor", "upstream cold (pages + files)",
                         "upstream warm ×3 (pages + files)", "installed"], rows), ""]
        lr = out.get("larder")
        if lr:
            wu = sum(u["total"] for u in lr["warm_upstream"])
            targets.append([f"{client}: warm install through larder makes 0 upstream requests", str(wu), mark(wu == 0)])
            others = [out[s]["warm_s"] for s in ("nginx", "devpi", "proxpi") if s in out]
            if others:
                best = min(others)
                targets.append([f"{client}: warm through larder vs the fastest other proxy",
                                f"{lr['warm_s']:.2f} s vs {best:.2f} s ({fr(ratio(lr['warm_s'], best))})",
                                mark(lr["warm_s"] <= best * 1.05)])
            targets.append([f"{client}: warm through larder vs the floor (information)",
                            fr(ratio(lr["warm_s"], floor)), "–"])
    parts += [table(["expectation", "measured", ""], targets)]
    return "\n".join(parts)


# ---------------------------------------------------------------- start-up


def render_startup(d):
    c = d["catalogs"]
    rows = []
    for name, label in (("empty", "empty catalog"), ("1m", f"{d['rows']:,} blob rows")):
        x = c.get(name)
        if not x:
            continue
        w = x["wrk_c1"]
        rows.append([label, f"{x['catalog_mib']:.0f} MiB", f"{x['ready_median_s'] * 1000:.1f}",
                     f"{x['ready_max_s'] * 1000:.1f}", f"{x['first_page_cold_s'] * 1000:.1f}",
                     f"{x['first_page_median_s'] * 1000:.2f}", f"{x['second_page_median_s'] * 1000:.2f}",
                     f"{w['rps']:,.0f}", f"{w['p50_ms']:.2f} / {w['p99_ms']:.2f}",
                     f"{x['rss_median_kib'] / 1024:.1f}"])
    t = []
    big = c.get("1m")
    if big:
        t.append([f"spawn → first 200 from /healthz ≤ 200 ms with {d['rows']:,} cached files (median, max)",
                  f"{big['ready_median_s'] * 1000:.1f} / {big['ready_max_s'] * 1000:.1f} ms",
                  mark(big["ready_max_s"] <= 0.2)])
        if "empty" in c:
            e = c["empty"]
            t.append(["small-page p99 (wrk c1) with 1M rows vs empty (information)",
                      f"{big['wrk_c1']['p99_ms']:.2f} vs {e['wrk_c1']['p99_ms']:.2f} ms",
                      "–"])
    return "\n".join([
        head(d["meta"], "startup"),
        "",
        f"`larder serve` on a cache dir whose `catalog.sqlite` larder created itself (one start and stop), then "
        f"for the large case filled with {d['rows']:,} `blob` rows (state `stored`) and as many `blob_name` rows "
        "(source `upstream`, 50,000 projects) in one transaction (Python's sqlite3; the blob files themselves "
        f"do not exist). {d['runs']} starts each: *ready* = spawn to the first 200 from `/healthz` (polled every "
        "2 ms). Then `/simple/bench-w050/` (a 2-file page from the fixture upstream): *first page, cold* on the "
        "first start (fetched from the upstream), *first page* on the later starts (cached in the catalog), the "
        "request after it, and wrk at concurrency 1 for 2 s after every start (median of the starts' figures). RSS right after the first page.",
        "",
        table(["catalog", "catalog size", "ready median (ms)", "ready max (ms)", "first page, cold (ms)",
               "first page after restart (ms)", "next request (ms)", "wrk c1 req/s", "wrk c1 p50 / p99 (ms)",
               "RSS (MiB)"], rows),
        "",
        table(["target", "measured", ""], t),
    ])
