"""pip install ./bindings/python — builds the extension against an installed libstele_c.

First install the C library (cmake --install build/rel --prefix PREFIX), then, with
PKG_CONFIG_PATH=PREFIX/lib/<arch>/pkgconfig (or PREFIX/lib/pkgconfig):

    pip install --no-build-isolation ./bindings/python

Needs pybind11-dev (headers in /usr/include) and pkg-config. Without pip, the CMake build already
leaves an importable package in build/<tree>/bindings/python.
"""
import shlex
import subprocess

from setuptools import Extension, setup


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "stele"], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit("pkg-config cannot find stele: install libstele_c first "
                         "(cmake --install) and set PKG_CONFIG_PATH") from e
    return shlex.split(out.stdout)


cflags = pkg_config("--cflags")
libdir = pkg_config("--variable=libdir")[0]
ext = Extension(
    "stele._stele",
    sources=["src/module.cc"],
    include_dirs=[f[2:] for f in cflags if f.startswith("-I")] + ["/usr/include"],
    library_dirs=[libdir],
    libraries=["stele_c"],
    runtime_library_dirs=[libdir],
    extra_compile_args=["-std=c++20", "-fvisibility=hidden"],
    language="c++",
)

setup(
    name="stele",
    version=pkg_config("--modversion")[0],
    description="Stele embedded commit-log store (RocketMQ format): Python binding",
    license="Apache-2.0",
    packages=["stele"],
    package_data={"stele": ["py.typed", "_stele.pyi"]},
    ext_modules=[ext],
    python_requires=">=3.9",
)
