#!/usr/bin/env python3
"""Render bench/results/scale.json (bench/scale.py) as Markdown: writes
bench/results/scale.md and the `bench:scale` section of BENCHMARKS.md (between
its markers; everything else is left alone)."""

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from render import DOC, RESULTS, mark, replace_section  # noqa: E402

MIB = 1024


def f(x, digits=1, unit=""):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}{unit}"


def ratio(x):
    return "–" if x is None else f"{x:.2f}×"


def render_scale(d):
    m, t = d["meta"], d["meta"]["targets"]
    fx = m["fixture"]
    rss, cold, fb, st = d["rss"], d["list_cold"], d["list_first_byte"], d["startup"]
    lines = [
        f"Measured {m['generated']} on {m['machine']['cpus']} CPUs (kernel {m['machine']['kernel']}), "
        f"larder {m['larder']} ({m['larder_rev']}), nginx {m['nginx']}; {m['rounds']} paired rounds of "
        f"{m['wrk_seconds']} s wrk runs; the run took {m['seconds']} s.",
        "",
        f"Fixture: {fx['names']:,} names (list {fx['list_html_bytes'] / 1e6:.1f} MB HTML, "
        f"{fx['list_json_bytes'] / 1e6:.1f} MB JSON), {len(fx) and fx['shape']['projects']} projects with "
        f"{fx['files_total']:,} files (median {fx['files_median']}, {fx['projects_under_50']} under 50), the largest "
        f"`{fx['huge']}` with {fx['shape']['huge_files']:,} files ({fx['largest_page_html_bytes'] / 1e6:.1f} MB HTML, "
        f"{fx['largest_page_json_bytes'] / 1e6:.1f} MB JSON).",
        "",
        "Warm, paired rounds (requests/s; each larder run next to its nginx run, ratio per pair):",
        "",
        "| what | format | c | larder (median) | nginx (median) | median of ratios | ratios |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in d["warm"]:
        ratios = ", ".join(ratio(p["ratio"]) for p in r["pairs"])
        lines.append(f"| {r['what']} | {r['format']} | {r['concurrency']} | {f(r['larder_rps'])} | "
                     f"{f(r['nginx_rps'])} | {ratio(r['ratio_median'])} | {ratios} |")
    lc, ln = cold["results"]["larder"], cold["results"]["nginx"]
    lines += [
        "",
        f"List cold, {cold['clients']} clients at once on the uncached list (a direct download from the upstream: "
        f"{cold['direct_s'] * 1000:.0f} ms"
        + (f"; {cold['clients']} clients at once straight from the upstream: the last done after "
           f"{cold['direct_all']['last_done_s'] * 1000:.0f} ms" if cold.get("direct_all", {}).get("last_done_s") else "")
        + "):",
        "",
        "| system | upstream requests for /simple/ | clients complete | last client done | vs direct | "
        f"vs {cold['clients']} clients direct |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in (("larder", lc), ("nginx", ln)):
        vs = r["last_done_s"] / cold["direct_s"] if r["last_done_s"] else None
        all_s = cold.get("direct_all", {}).get("last_done_s")
        vs_all = r["last_done_s"] / all_s if r["last_done_s"] and all_s else None
        lines.append(f"| {name} | {r['upstream_requests']} | {r['complete_clients']}/{cold['clients']} | "
                     f"{f(r['last_done_s'] and r['last_done_s'] * 1000, 0, ' ms')} | {ratio(vs)} | {ratio(vs_all)} |")
    pc = d["pages_cold"]
    lines += [
        "",
        f"The 300 pages cold (HTML then JSON, 8 at a time): larder {pc['larder']['seconds']:.1f} s "
        f"({pc['larder']['failed']} failed), nginx {pc['nginx']['seconds']:.1f} s ({pc['nginx']['failed']} failed).",
        f"List first byte, warm (curl, median of 5): larder {fb['larder']['ttfb_ms_median']:.2f} ms "
        f"(complete {fb['larder']['total_ms_median']:.0f} ms), nginx {fb['nginx']['ttfb_ms_median']:.2f} ms "
        f"(complete {fb['nginx']['total_ms_median']:.0f} ms).",
        f"larder RSS: idle at start {d['idle_start_rss_kib'] / MIB:.1f} MiB, peak over cold + warm "
        f"{rss['larder_peak_kib'] / MIB:.1f} MiB (sampled every 100 ms, or VmHWM), idle after "
        f"{rss['larder_idle_after_kib'] / MIB:.1f} MiB; nginx peak {rss['nginx_peak_kib'] / MIB:.1f} MiB."
        + (f" Loads stopped early at the {rss['limit_kib'] // MIB // 1024} GiB safety limit: "
           f"{', '.join(rss['stopped_at_limit'])}." if rss["stopped_at_limit"] else ""),
    ]
    runs = [r for r in st["runs"] if r.get("ready_s") is not None]
    names = runs[0]["names"] if runs else None
    pages = runs[0].get("pages_200") if runs else None
    lines.append(
        f"Start-up on the warm data dir, upstream stopped ({len(st['runs'])} runs): first 200 of /simple/ after "
        f"{f(st['ready_median_s'] and st['ready_median_s'] * 1000, 0, ' ms')} (median), listing "
        f"{f(names, 0)} of {st['names_expected']:,} names; {f(pages, 0)} of {st['pages_expected']} pages "
        f"answered 200; {st['upstream_connections']} connections to the upstream's port.")

    warm = {(r["what"], r["format"], r["concurrency"]): r for r in d["warm"]}

    def vs(key):
        r = warm.get(key)
        return r and r["ratio_median"]

    def ge(x, lim):
        return x is not None and x >= lim

    def le(x, lim):
        return x is not None and x <= lim

    peak, idle = rss["larder_peak_kib"] / MIB, rss["larder_idle_after_kib"] / MIB
    cold_vs = lc["last_done_s"] / cold["direct_s"] if lc["last_done_s"] else None
    lines += [
        "",
        "| target | measured | |",
        "| --- | ---: | --- |",
        f"| peak RSS ≤ {t['peak_rss_mib']} MiB over cold + warm | {peak:.1f} MiB | {mark(le(peak, t['peak_rss_mib']))} |",
        f"| idle RSS after ≤ {t['idle_rss_mib']} MiB | {idle:.1f} MiB | {mark(le(idle, t['idle_rss_mib']))} |",
    ]
    for c in (1, 64):
        x = vs(("list", "html", c))
        lines.append(f"| list warm c{c} ≥ {t['vs_nginx']}× nginx | {ratio(x)} | {mark(ge(x, t['vs_nginx']))} |")
    x = fb["larder"]["ttfb_ms_median"]
    lines.append(f"| list first byte ≤ {t['first_byte_ms']} ms | {x:.2f} ms | {mark(le(x, t['first_byte_ms']))} |")
    lines.append(f"| list cold: exactly 1 upstream request | {lc['upstream_requests']} | "
                 f"{mark(lc['upstream_requests'] == 1)} |")
    lines.append(f"| list cold: last client ≤ {t['cold_vs_direct']}× a direct download | {ratio(cold_vs)} | "
                 f"{mark(le(cold_vs, t['cold_vs_direct']) and lc['complete_clients'] == cold['clients'])} |")
    for fmt in ("html", "json"):
        x = vs(("page-20000", fmt, 64))
        lines.append(f"| 20,000-file page warm c64 {fmt.upper()} ≥ {t['vs_nginx']}× nginx | {ratio(x)} | "
                     f"{mark(ge(x, t['vs_nginx']))} |")
    ready = st["ready_median_s"] and st["ready_median_s"] * 1000
    lines.append(f"| start-up ≤ {t['startup_ms']} ms (first 200 of /simple/) | {f(ready, 0, ' ms')} | "
                 f"{mark(le(ready, t['startup_ms']))} |")
    nothing = st["upstream_connections"] == 0 and names == st["names_expected"] and pages == st["pages_expected"]
    lines.append(f"| start-up: nothing re-fetched (0 upstream connections, full list and all pages served) | "
                 f"{st['upstream_connections']} connections, {f(names, 0)} names, {f(pages, 0)} pages | "
                 f"{mark(nothing)} |")
    return "\n".join(lines)


def main():
    path = RESULTS / "scale.json"
    if not path.exists():
        return 0
    body = render_scale(json.loads(path.read_text()))
    (RESULTS / "scale.md").write_text(body + "\n")
    doc = replace_section(DOC.read_text(), "scale", body).replace(
        "generated by bench/render.py from bench/results/scale.json",
        "generated by bench/render_scale.py from bench/results/scale.json")
    DOC.write_text(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
