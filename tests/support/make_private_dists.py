#!/usr/bin/env python3
"""Writes the distributions the private-index tests upload.

    python3 tests/support/make_private_dists.py OUTDIR

Built with the helpers of make_dists.py, so the bytes are the same on every
run. Output:

    larder_private_app-1.0-py3-none-any.whl       requires larder-private-lib, larder-demo-lib>=1.0
    larder_private_lib-0.3-py3-none-any.whl       Requires-Python: >=3.8
    larder_private_lib-0.3-py2.py3-none-any.whl   same METADATA as the wheel above
    larder_private_lib-0.3.tar.gz                 sdist of the same
    larder_demo_util-0.1-py3-none-any.whl         a private namesake of the fixture
                                                  upstream's larder-demo-util 0.5
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import make_dists  # noqa: E402


def wheel(name, version, files, tag="py3-none-any", requires=(), requires_python=None):
    """Returns (filename, bytes) of a wheel tagged `tag`."""
    dist = name.replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    meta = make_dists.metadata(name, version, requires, requires_python)
    members = dict(sorted(files.items()))
    members[f"{dist_info}/METADATA"] = meta
    members[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\n"
        "Generator: larder-make-private-dists (1.0)\n"
        "Root-Is-Purelib: true\n"
        + "".join(f"Tag: {t}-none-any\n" for t in tag.split("-")[0].split("."))
        + "\n"
    ).encode()
    record = "".join(
        f"{arcname},{make_dists.record_digest(data)},{len(data)}\n"
        for arcname, data in members.items()
    )
    record += f"{dist_info}/RECORD,,\n"
    members[f"{dist_info}/RECORD"] = record.encode()
    return f"{dist}-{version}-{tag}.whl", make_dists.zip_bytes(members)


def build():
    out = {}
    init = make_dists.init_py
    app_requires = ["larder-private-lib", "larder-demo-lib>=1.0"]
    filename, data = wheel(
        "larder-private-app",
        "1.0",
        {"larder_private_app/__init__.py": init("1.0")},
        requires=app_requires,
    )
    out[filename] = data
    lib_files = {"larder_private_lib/__init__.py": init("0.3")}
    for tag in ("py3-none-any", "py2.py3-none-any"):
        filename, data = wheel(
            "larder-private-lib", "0.3", lib_files, tag=tag, requires_python=">=3.8"
        )
        out[filename] = data
    filename, data = make_dists.sdist(
        "larder-private-lib", "0.3", lib_files, requires_python=">=3.8"
    )
    out[filename] = data
    filename, data = wheel(
        "larder-demo-util",
        "0.1",
        {"larder_demo_util/__init__.py": init("0.1", "\nPRIVATE = True\n")},
    )
    out[filename] = data
    return out


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTDIR", file=sys.stderr)
        return 2
    os.makedirs(argv[1], exist_ok=True)
    for filename, data in sorted(build().items()):
        make_dists.write_if_changed(os.path.join(argv[1], filename), data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
