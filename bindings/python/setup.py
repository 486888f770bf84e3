"""Builds librocwebsocket (the repository's Rust crate, two levels up) with
setuptools-rust and ships it inside the wheel as ``rocwebsocket/librocwebsocket*.so``.

The package itself is plain ctypes (no Python extension): the Rust library is
a ``NoBinding`` extension, found at import time next to ``_ffi.py``.

Two choices keep builds cheap and the checkout clean:

* cargo gets the crate's own three crate types (rlib, cdylib, staticlib), so
  the command is the same unit as ``cargo build --release --lib``: a library
  already built in the repository's ``target/`` is reused as it is, and a
  fresh build there serves the other steps too (no second compile).
* setuptools' scratch directories (``build/``, ``*.egg-info``) go under the
  repository's ``target/python-build``, so ``pip install``/``pip wheel`` leave
  nothing behind in ``bindings/python``.

Building needs the repository checkout (the crate is ``../../Cargo.toml``);
install from the checkout's ``bindings/python`` directory, not an sdist.
"""

import os
from pathlib import Path

from setuptools import setup
from setuptools_rust import Binding, RustExtension

here = Path(__file__).resolve().parent
manifest = here.parent.parent / "Cargo.toml"
if not manifest.exists():
    raise SystemExit(f"rocwebsocket: {manifest} not found: build from the repository checkout")

# cargo's own target directory unless the caller chose one (CARGO_TARGET_DIR).
scratch = Path(os.environ.get("CARGO_TARGET_DIR") or here.parent.parent / "target") / "python-build"
scratch.mkdir(parents=True, exist_ok=True)

setup(
    rust_extensions=[
        RustExtension(
            "rocwebsocket.librocwebsocket",
            path=str(manifest),
            binding=Binding.NoBinding,
            # The manifest's crate types, in its order: the same cargo unit
            # (and fingerprint) as `cargo build --release --lib`.
            args=["--crate-type", "rlib", "--crate-type", "cdylib", "--crate-type", "staticlib"],
            py_limited_api=False,
        )
    ],
    options={
        "build": {"build_base": str(scratch / "build")},
        "egg_info": {"egg_base": str(scratch)},
    },
    zip_safe=False,
)
