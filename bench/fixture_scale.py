#!/usr/bin/env python3
"""Generate the real-shaped fixture index for bench/scale.py (deterministic, cached).

Issue 15 ("real-index scale"): a real public index lists ~750,000 projects
(~50 MB of HTML) and has project pages of up to 20,000 files. This writes a
static tree of that shape under DIR (served by nginx as the upstream, see
bench/scale.py):

    DIR/www/simple/index.html            project list, PEP 503 HTML (750,000 names)
    DIR/www/simple/index.json            the same list, PEP 691 JSON (v1.1)
    DIR/www/simple/<project>/index.html  300 project pages, PEP 503 HTML
    DIR/www/simple/<project>/index.json  the same pages, PEP 691 JSON (v1.1)
    DIR/manifest.json                    what was generated (written last)

File counts of the 300 projects follow a log-normal shape (most under 50
files, a long tail into the thousands); the largest has exactly 20,000 files.
Every file has a sha256, a size and an upload-time; requires-python on about
60 % of the projects; wheels carry core-metadata (PEP 714 / PEP 658) hashes;
a few files are yanked. The files themselves are not written (the scenario
requests pages only); their links point at ../../packages/<project>/<file>.

Every output file gets a fixed mtime, so nginx's ETag and Last-Modified are
the same on every run. A second run with the same seed and shape does nothing
(the manifest records both). About 100 MB of disk, ~15 s.

Usage: fixture_scale.py DIR [--seed N]
"""

import argparse
import hashlib
import html
import json
import math
import os
import random
import shutil
import sys
import time
from pathlib import Path

GENERATOR = 1  # bump when the output changes
NAMES = 750_000
PROJECTS = 300
HUGE_FILES = 20_000
MTIME = 1735689600  # 2025-01-01T00:00:00Z, for stable ETag / Last-Modified

SYLLABLES = ("py ja ng o fl ask re qu est num sci kit data frame tor ch lib net web api cli "
             "aws az ure goo gle cloud sql al chemy log ger conf ig yaml toml json xml html css "
             "django rest auth ope nai ml dl vis ion text nlp geo map plot ly dash bot test mock "
             "lint fmt type check sync as io grpc http url path file zip tar cache redis kafka "
             "queue task work flow pipe line").split()
SUFFIXES = ["", "", "", "", "-py", "-python", "-utils", "-tools", "-client", "-sdk", "-core", "-cli",
            "-plugin", "-api", "-lib", "2", "3", "-ng", "-lite", "-extras", "-contrib", "-async"]


def names(rng, n):
    """n unique project names (display form) and their normalized forms."""
    seen, out = set(), []
    while len(out) < n:
        parts = [rng.choice(SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))]
        sep = rng.choice(("", "", "-", "_", "."))
        name = sep.join(parts) + rng.choice(SUFFIXES)
        if rng.random() < 0.35:
            name += f"-{rng.randrange(1000)}"
        if rng.random() < 0.1:
            name = name.capitalize()
        norm = normalize(name)
        if norm in seen or not norm[0].isalnum():
            continue
        seen.add(norm)
        out.append(name)
    return out


def normalize(name):
    import re
    return re.sub(r"[-_.]+", "-", name).lower()


def file_counts(rng):
    """PROJECTS file counts: log-normal (median ~12), a long tail, one HUGE_FILES."""
    counts = [max(1, min(8000, int(rng.lognormvariate(2.5, 1.4)))) for _ in range(PROJECTS - 4)]
    counts += [2000, 4000, 8000, HUGE_FILES]  # the tail's top, so every run has it
    return counts


def files_for(rng, project, n):
    """n file entries of a project: versions, each an sdist plus 0..k wheels."""
    dist = project.replace("-", "_")
    binary = n > 200 or rng.random() < 0.3
    per_version = 40 if n >= 5000 else (12 if binary else 1)
    pyreq_from = rng.randrange(0, 50) if rng.random() < 0.6 else None
    tags = [f"cp3{m}-cp3{m}-{plat}" for m in range(8, 14)
            for plat in ("manylinux_2_17_x86_64.manylinux2014_x86_64", "manylinux_2_17_aarch64",
                         "musllinux_1_1_x86_64", "macosx_10_9_x86_64", "macosx_11_0_arm64",
                         "win_amd64", "win32")]
    out, v = [], 0
    t = 1420070400 + rng.randrange(0, 3 * 365 * 86400)  # first upload 2015..2018
    while len(out) < n:
        version = f"{v // 100}.{(v // 10) % 10}.{v % 10}"
        t += rng.randrange(3600, 20 * 86400)
        requires = f">={3 if v >= (pyreq_from or 0) else 2}.{rng.choice((6, 7, 8, 9))}" \
            if pyreq_from is not None and v >= pyreq_from else None
        names_ = [f"{dist}-{version}.tar.gz"]
        if per_version == 1:
            names_.append(f"{dist}-{version}-py3-none-any.whl")
        else:
            names_ += [f"{dist}-{version}-{tag}.whl" for tag in rng.sample(tags, min(per_version, len(tags)))]
        for i, fn in enumerate(names_):
            if len(out) == n:
                break
            wheel = fn.endswith(".whl")
            out.append({
                "filename": fn,
                "sha256": "%064x" % rng.getrandbits(256),
                "size": int(rng.lognormvariate(11.5, 1.5)) + 500,
                "upload-time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + i * 7)) + ".000000Z",
                "requires-python": requires,
                "core-metadata": ("%064x" % rng.getrandbits(256)) if wheel else None,
                "yanked": rng.random() < 0.005,
                "version": version,
            })
        v += 1
    return out


def page_html(project, files):
    rows = []
    for f in files:
        attrs = ""
        if f["requires-python"]:
            attrs += f' data-requires-python="{html.escape(f["requires-python"])}"'
        if f["core-metadata"]:
            attrs += f' data-dist-info-metadata="sha256={f["core-metadata"]}"' \
                     f' data-core-metadata="sha256={f["core-metadata"]}"'
        if f["yanked"]:
            attrs += ' data-yanked=""'
        rows.append(f'    <a href="../../packages/{project}/{f["filename"]}#sha256={f["sha256"]}"{attrs}>'
                    f'{f["filename"]}</a><br />')
    return ("<!DOCTYPE html>\n<html>\n  <head>\n"
            '    <meta name="pypi:repository-version" content="1.1">\n'
            f"    <title>Links for {project}</title>\n  </head>\n  <body>\n"
            f"    <h1>Links for {project}</h1>\n" + "\n".join(rows) + "\n  </body>\n</html>\n")


def page_json(project, files, serial):
    out = []
    for f in files:
        e = {"filename": f["filename"], "url": f"../../packages/{project}/{f['filename']}",
             "hashes": {"sha256": f["sha256"]}, "size": f["size"], "upload-time": f["upload-time"]}
        if f["requires-python"]:
            e["requires-python"] = f["requires-python"]
        if f["core-metadata"]:
            e["core-metadata"] = {"sha256": f["core-metadata"]}
            e["data-dist-info-metadata"] = {"sha256": f["core-metadata"]}
        if f["yanked"]:
            e["yanked"] = True
        out.append(e)
    versions = list(dict.fromkeys(f["version"] for f in files))
    return json.dumps({"meta": {"api-version": "1.1", "_last-serial": serial}, "name": project,
                       "versions": versions, "files": out}, separators=(",", ":"))


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (MTIME, MTIME))
    return path.stat().st_size


def generate(root, seed=15):
    """Write the tree under root unless a manifest of the same seed and shape is there."""
    root = Path(root)
    manifest_path = root / "manifest.json"
    shape = {"generator": GENERATOR, "seed": seed, "names": NAMES, "projects": PROJECTS, "huge_files": HUGE_FILES}
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old.get("shape") == shape:
            return old
        manifest_path.unlink()
    started = time.monotonic()
    www = root / "www"
    if www.exists():
        shutil.rmtree(www)
    rng = random.Random(seed)
    all_names = names(rng, NAMES)
    serials = [rng.randrange(1, 30_000_000) for _ in all_names]
    order = sorted(range(NAMES), key=lambda i: normalize(all_names[i]))
    simple = www / "simple"
    head = ("<!DOCTYPE html>\n<html>\n  <head>\n"
            '    <meta name="pypi:repository-version" content="1.1">\n'
            "    <title>Simple index</title>\n  </head>\n  <body>\n")
    list_html = write(simple / "index.html", head + "".join(
        f'    <a href="/simple/{normalize(all_names[i])}/">{html.escape(all_names[i])}</a>\n' for i in order)
        + "  </body>\n</html>\n")
    list_json = write(simple / "index.json", json.dumps(
        {"meta": {"api-version": "1.1", "_last-serial": max(serials)},
         "projects": [{"name": all_names[i], "_last-serial": serials[i]} for i in order]},
        separators=(",", ":")))
    picked = rng.sample(range(NAMES), PROJECTS)
    counts = file_counts(rng)
    # The huge project is the last of counts; give it a recognisable slot in the manifest.
    projects = {}
    for idx, n in zip(picked, counts):
        project = normalize(all_names[idx])
        files = files_for(rng, project, n)
        h = write(simple / project / "index.html", page_html(project, files))
        j = write(simple / project / "index.json", page_json(project, files, serials[idx]))
        projects[project] = {"files": n, "html_bytes": h, "json_bytes": j}
    huge = max(projects, key=lambda p: projects[p]["files"])
    counts_sorted = sorted(counts)
    manifest = {
        "shape": shape,
        "names": NAMES,
        "list_html_bytes": list_html,
        "list_json_bytes": list_json,
        "projects": projects,
        "huge": huge,
        "files_total": sum(counts),
        "files_median": counts_sorted[len(counts) // 2],
        "projects_under_50": sum(1 for c in counts if c < 50),
        "largest_page_json_bytes": max(p["json_bytes"] for p in projects.values()),
        "largest_page_html_bytes": max(p["html_bytes"] for p in projects.values()),
        "generate_s": round(time.monotonic() - started, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    m = generate(args.dir, args.seed)
    print(f"fixture-scale: {m['names']:,} names (list {m['list_html_bytes'] / 1e6:.1f} MB HTML, "
          f"{m['list_json_bytes'] / 1e6:.1f} MB JSON), {len(m['projects'])} projects, {m['files_total']:,} files, "
          f"huge {m['huge']} ({m['projects'][m['huge']]['files']:,} files, "
          f"{m['largest_page_json_bytes'] / 1e6:.2f} MB JSON), generated in {m['generate_s']} s", file=sys.stderr)
    print(args.dir / "manifest.json")


if __name__ == "__main__":
    main()
