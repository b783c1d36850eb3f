#!/usr/bin/env python3
"""Writes a small dependency tree of real, installable Python distributions.

    python3 tests/support/make_dists.py OUTDIR

Every run writes the same bytes (fixed zip and tar timestamps, sorted entries,
stored rather than compressed zip members, pseudo-random data from a fixed
seed), so hashes are stable between runs. Files are written atomically and
only replaced when their bytes differ, so the script is idempotent and safe to
run concurrently on one OUTDIR.

Output:

    larder_demo_app-1.0-py3-none-any.whl    requires larder-demo-lib>=1.0
    larder_demo_app-1.0.tar.gz              sdist of the same
    larder_demo_lib-1.0-py3-none-any.whl    requires larder-demo-util
    larder_demo_lib-1.1-py3-none-any.whl    requires larder-demo-util
    larder_demo_util-0.5-py3-none-any.whl   Requires-Python: >=3.8
    larder_demo_big-1.0-py3-none-any.whl    ~2 MiB of incompressible data

and, next to each wheel, `<wheel>.metadata` (PEP 658): the wheel's METADATA.
"""

import base64
import gzip
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import zipfile

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
TAR_MTIME = 315532800  # 1980-01-01T00:00:00Z
BIG_SIZE = 2 * 1024 * 1024


def metadata(name, version, requires=(), requires_python=None, summary=None):
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {summary or 'A larder test fixture distribution'}",
    ]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    for requirement in requires:
        lines.append(f"Requires-Dist: {requirement}")
    return ("\n".join(lines) + "\n\n").encode()


def record_digest(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def zip_bytes(members):
    """A zip of `members` ({arcname: bytes}, written in the given order)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for arcname, data in members.items():
            info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3
            archive.writestr(info, data)
    return buffer.getvalue()


def wheel(name, version, files, requires=(), requires_python=None):
    """Returns (wheel filename, wheel bytes, METADATA bytes)."""
    dist = name.replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    meta = metadata(name, version, requires, requires_python)
    members = dict(sorted(files.items()))
    members[f"{dist_info}/METADATA"] = meta
    members[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\n"
        "Generator: larder-make-dists (1.0)\n"
        "Root-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
        "\n"
    ).encode()
    members[f"{dist_info}/top_level.txt"] = f"{dist}\n".encode()
    record = "".join(
        f"{arcname},{record_digest(data)},{len(data)}\n"
        for arcname, data in members.items()
    )
    record += f"{dist_info}/RECORD,,\n"
    members[f"{dist_info}/RECORD"] = record.encode()
    return f"{dist}-{version}-py3-none-any.whl", zip_bytes(members), meta


def sdist(name, version, files, requires=(), requires_python=None):
    """Returns (sdist filename, .tar.gz bytes) in PEP 625 form."""
    dist = name.replace("-", "_")
    root = f"{dist}-{version}"
    dependencies = "".join(f'    "{r}",\n' for r in requires)
    pyproject = (
        "[build-system]\n"
        'requires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n'
        "\n"
        "[project]\n"
        f'name = "{name}"\n'
        f'version = "{version}"\n'
        'description = "A larder test fixture distribution"\n'
        + (f'requires-python = "{requires_python}"\n' if requires_python else "")
        + f"dependencies = [\n{dependencies}]\n"
    ).encode()
    members = {
        f"{root}/PKG-INFO": metadata(name, version, requires, requires_python),
        f"{root}/pyproject.toml": pyproject,
    }
    for arcname, data in files.items():
        members[f"{root}/{arcname}"] = data
    members = dict(sorted(members.items()))

    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        directories = sorted(
            {"/".join(p.split("/")[:i]) for p in members for i in range(1, p.count("/") + 1)}
        )
        for directory in directories:
            info = tarinfo(directory, tarfile.DIRTYPE, 0o755)
            archive.addfile(info)
        for arcname, data in members.items():
            info = tarinfo(arcname, tarfile.REGTYPE, 0o644)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

    gz_buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz_buffer, mtime=0, compresslevel=9) as gz:
        gz.write(tar_buffer.getvalue())
    return f"{root}.tar.gz", gz_buffer.getvalue()


def tarinfo(name, kind, mode):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = TAR_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def incompressible(size, seed=b"larder-demo-big"):
    """`size` pseudo-random bytes: SHA-256 in counter mode, stable forever."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


def init_py(version, body=""):
    return (f'"""A larder test fixture package."""\n\n__version__ = "{version}"\n' + body).encode()


APP_BODY = '''

def hello():
    """Proves the dependency is importable."""
    import larder_demo_lib

    return f"larder-demo-app {__version__} with larder-demo-lib {larder_demo_lib.__version__}"
'''

LIB_BODY = '''

def util_version():
    import larder_demo_util

    return larder_demo_util.__version__
'''


def build():
    """Returns {filename: bytes} for every output file."""
    out = {}

    def add_wheel(name, version, files, **kwargs):
        filename, data, meta = wheel(name, version, files, **kwargs)
        out[filename] = data
        out[filename + ".metadata"] = meta

    app_files = {"larder_demo_app/__init__.py": init_py("1.0", APP_BODY)}
    app_requires = ["larder-demo-lib>=1.0"]
    add_wheel("larder-demo-app", "1.0", app_files, requires=app_requires)
    filename, data = sdist("larder-demo-app", "1.0", app_files, requires=app_requires)
    out[filename] = data

    for version in ("1.0", "1.1"):
        add_wheel(
            "larder-demo-lib",
            version,
            {"larder_demo_lib/__init__.py": init_py(version, LIB_BODY)},
            requires=["larder-demo-util"],
        )

    add_wheel(
        "larder-demo-util",
        "0.5",
        {"larder_demo_util/__init__.py": init_py("0.5")},
        requires_python=">=3.8",
    )

    add_wheel(
        "larder-demo-big",
        "1.0",
        {
            "larder_demo_big/__init__.py": init_py("1.0"),
            "larder_demo_big/data.bin": incompressible(BIG_SIZE),
        },
    )
    return out


def write_if_changed(path, data):
    try:
        with open(path, "rb") as existing:
            if existing.read() == data:
                return
    except FileNotFoundError:
        pass
    directory = os.path.dirname(path)
    fd, staging = tempfile.mkstemp(dir=directory, prefix=".make-dists-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    except BaseException:
        try:
            os.unlink(staging)
        except FileNotFoundError:
            pass
        raise


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTDIR", file=sys.stderr)
        return 2
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    for filename, data in sorted(build().items()):
        write_if_changed(os.path.join(outdir, filename), data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
