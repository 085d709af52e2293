"""Build step for the C extensions; everything else is declared in pyproject.toml.

``-ffp-contract=off``: no fused multiply-add, so the C kernels round exactly as their Python
definitions in ``stories/kernels.py`` do (tested bit for bit).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "newsthreads.stories._kernels",
    sources=["plugins/newsthreads/stories/_kernels.c"],
    extra_compile_args=["-O2", "-ffp-contract=off", "-fno-strict-aliasing"],
    optional=True,  # without a compiler the Python definitions run (same results, slower)
), Extension(  # the text analysis's loops (stories/textkernels.py has their definitions)
    "newsthreads.stories._textkernels",
    sources=["plugins/newsthreads/stories/_textkernels.c"],
    extra_compile_args=["-O2", "-ffp-contract=off", "-fno-strict-aliasing"],
    optional=True,
)])
