"""Build the frontend's optional compiled kernel (kws/features/_native.c).

Everything else about the package is in pyproject.toml. The extension is optional: where no C
compiler or Python headers exist, installation still succeeds and kws.features uses its numpy
path (same features, 5x the CPU per 10 ms push in benchmarks.runtime_cost; see README
"Frontend cost").
"""

import sys

from setuptools import Extension, setup

# Keep x86 and ARM rounding identical: no fused multiply-add contraction.
FLAGS = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off"]

setup(
    ext_modules=[
        Extension(
            "kws.features._native",
            ["kws/features/_native.c"],
            extra_compile_args=FLAGS,
            optional=True,
        )
    ]
)
