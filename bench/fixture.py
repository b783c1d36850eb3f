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

With --many, writes a different tree instead (DIR is then its own root, e.g.
fixture-many/): 100 small projects bench-w000 … bench-w099, each one real,
installable pure-Python wheel plus an sdist (a few hundred bytes each), built
deterministically (fixed timestamps, so the hashes are the same on every run).
bench-w000 … bench-w028 each require the next one (`Requires-Dist`), so
installing bench-w000 pulls a 30-deep chain. Also written:

    DIR/flat/                     all the wheels in one directory (--find-links)
    DIR/req-100.txt               every project pinned with ==1.0.0
    DIR/req-chain.txt             bench-w000==1.0.0 (the 30-wheel chain)

Usage: fixture.py DIR [--with-500m]
       fixture.py DIR --many
"""

import argparse
import base64
import gzip
import io
import tarfile
import zipfile
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


MANY = 100
CHAIN = 30  # bench-w000 requires bench-w001 … up to bench-w029


def wheel_bytes(dist, version, requires):
    """A minimal, valid pure-Python wheel (deterministic bytes)."""
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: {version}\n"
            "Summary: larder benchmark fixture\nRequires-Python: >=3.8\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        ).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: larder-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            zi = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return buf.getvalue()


def sdist_bytes(dist, version):
    """A small sdist (.tar.gz) with PKG-INFO and pyproject.toml (deterministic bytes)."""
    base = f"{dist}-{version}"
    members = {
        f"{base}/PKG-INFO": f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: {version}\n".encode(),
        f"{base}/pyproject.toml": b'[build-system]\nrequires = []\nbuild-backend = "none"\n',
        f"{base}/{dist}/__init__.py": f'VERSION = "{version}"\n'.encode(),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 1577836800, 0o644
            t.addfile(ti, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def write_if_changed(path, data):
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def many(root):
    """The 100-project tree (see the module docstring)."""
    www = root / "www"
    flat = root / "flat"
    flat.mkdir(parents=True, exist_ok=True)
    manifest = {"projects": {}}
    for i in range(MANY):
        project, dist = f"bench-w{i:03d}", f"bench_w{i:03d}"
        requires = [f"bench-w{i + 1:03d}"] if i < CHAIN - 1 else []
        pkg_dir = www / "packages" / project
        pkg_dir.mkdir(parents=True, exist_ok=True)
        entries = []
        for name, data in ((f"{dist}-1.0.0-py3-none-any.whl", wheel_bytes(dist, "1.0.0", requires)),
                           (f"{dist}-1.0.0.tar.gz", sdist_bytes(dist, "1.0.0"))):
            write_if_changed(pkg_dir / name, data)
            if name.endswith(".whl"):
                write_if_changed(flat / name, data)
            entries.append({"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        page_dir = www / "simple" / project
        page_dir.mkdir(parents=True, exist_ok=True)
        write_if_changed(page_dir / "index.html",
                         page(project, [(e["name"], e["sha256"]) for e in entries]).encode())
        manifest["projects"][project] = {"files": entries, "requires": requires}
    names = "\n".join(f'    <a href="{p}/">{p}</a><br/>' for p in manifest["projects"])
    (www / "simple" / "index.html").write_text(
        f"<!DOCTYPE html>\n<html>\n  <body>\n{names}\n  </body>\n</html>\n")
    (root / "req-100.txt").write_text("".join(f"{p}==1.0.0\n" for p in manifest["projects"]))
    (root / "req-chain.txt").write_text("bench-w000==1.0.0\n")
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(root / "manifest.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--with-500m", action="store_true")
    ap.add_argument("--many", action="store_true", help="write the 100-project tree instead")
    args = ap.parse_args()
    if args.many:
        return many(args.dir)

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
