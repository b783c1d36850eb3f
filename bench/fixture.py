#!/usr/bin/env python3
"""Generate the fixture upstream index for the proxy benchmarks (idempotent).

Writes a static PEP 503 tree under DIR (served by nginx as the "upstream"):

    DIR/www/simple/index.html                     project list
    DIR/www/simple/<project>/index.html           project pages, links with #sha256=
    DIR/www/packages/<project>/<file>             the files
    DIR/manifest.json                             what was generated (sizes, hashes)

Projects:
    bench-small   5 small files (a few KiB each)
    bench-big     3,000 tiny files (the large project page)
    bench-1m      one 1 MiB wheel
    bench-50m     one 50 MiB wheel
    bench-cold    one 50 MiB wheel, served throttled (cold coalescing scenario)
    bench-500m    one 500 MiB wheel, only with --with-500m

File contents are random bytes; existing files are kept when their size matches
(hashes are re-read from the manifest), so a second run is fast.

Usage: fixture.py DIR [--with-500m]
"""

import argparse
import hashlib
import html
import json
import os
import sys
from pathlib import Path

MIB = 1024 * 1024


def projects(with_500m):
    yield "bench-small", [(f"bench_small-1.{i}.0-py3-none-any.whl", 4096 * (i + 1)) for i in range(4)] + [
        ("bench_small-1.3.0.tar.gz", 6000)
    ]
    yield "bench-big", [(f"bench_big-0.{i // 100}.{i % 100}-py3-none-any.whl", 64) for i in range(3000)]
    yield "bench-1m", [("bench_1m-1.0.0-py3-none-any.whl", 1 * MIB)]
    yield "bench-50m", [("bench_50m-1.0.0-py3-none-any.whl", 50 * MIB)]
    yield "bench-cold", [("bench_cold-1.0.0-py3-none-any.whl", 50 * MIB)]
    if with_500m:
        yield "bench-500m", [("bench_500m-1.0.0-py3-none-any.whl", 500 * MIB)]


def write_random(path, size):
    """Write SIZE random bytes to PATH atomically; return the sha256 hex."""
    h = hashlib.sha256()
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 4 * MIB))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    tmp.rename(path)
    return h.hexdigest()


def page(project, links):
    rows = "\n".join(
        f'    <a href="../../packages/{project}/{html.escape(name)}#sha256={sha}"'
        f' data-requires-python="&gt;=3.8">{html.escape(name)}</a><br/>'
        for name, sha in links
    )
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>Links for {project}</title>\n  </head>\n  <body>\n"
        f"    <h1>Links for {project}</h1>\n{rows}\n  </body>\n</html>\n"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--with-500m", action="store_true")
    args = ap.parse_args()

    root = args.dir
    www = root / "www"
    manifest_path = root / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    old_files = {(p, f["name"]): f for p, v in old.get("projects", {}).items() for f in v["files"]}

    manifest = {"projects": {}}
    for project, files in projects(args.with_500m):
        pkg_dir = www / "packages" / project
        pkg_dir.mkdir(parents=True, exist_ok=True)
        entries = []
        for name, size in files:
            path = pkg_dir / name
            known = old_files.get((project, name))
            if known and known["size"] == size and path.exists() and path.stat().st_size == size:
                sha = known["sha256"]
            else:
                if size >= MIB:
                    print(f"fixture: writing {path} ({size // MIB} MiB)", file=sys.stderr)
                sha = write_random(path, size)
            entries.append({"name": name, "size": size, "sha256": sha})
        page_dir = www / "simple" / project
        page_dir.mkdir(parents=True, exist_ok=True)
        (page_dir / "index.html").write_text(page(project, [(e["name"], e["sha256"]) for e in entries]))
        manifest["projects"][project] = {"files": entries}

    names = "\n".join(f'    <a href="{p}/">{p}</a><br/>' for p in manifest["projects"])
    (www / "simple" / "index.html").write_text(
        f"<!DOCTYPE html>\n<html>\n  <body>\n{names}\n  </body>\n</html>\n"
    )
    manifest_path.write_text(json.dumps(manifest, indent=1))
    print(manifest_path)


if __name__ == "__main__":
    main()
