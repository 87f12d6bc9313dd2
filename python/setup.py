"""Builds persisting._native with the repository's CMake build, for pip.

    pip install --no-build-isolation ./python

The extension is built in the repository's build directory (``build/``, or
``$PERSISTING_BUILD_DIR``): configured there if it is not yet, then only the extension target
is built, so after ``scripts/test.sh`` or a normal build this is quick.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


class CMakeExtension(Extension):
    """An extension whose build is CMake's target persisting_native."""

    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configures (if needed) and builds the CMake target, then copies the module in place."""

    def build_extension(self, ext: Extension) -> None:
        build_dir = Path(os.environ.get("PERSISTING_BUILD_DIR", REPO / "build")).resolve()
        if not (build_dir / "CMakeCache.txt").exists():
            subprocess.check_call([
                "cmake", "-S", str(REPO), "-B", str(build_dir), "-G", "Ninja",
                "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                f"-DPython_EXECUTABLE={os.path.realpath(sys.executable)}"])
        jobs = os.environ.get("JOBS", str(os.cpu_count() or 2))
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "persisting_native",
                               "-j", jobs])
        built = sorted((build_dir / "python" / "persisting").glob("_native*.so"))
        if not built:
            raise RuntimeError(f"no persisting/_native*.so in {build_dir / 'python'}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[-1], target)


setup(ext_modules=[CMakeExtension("persisting._native")], cmdclass={"build_ext": CMakeBuild})
