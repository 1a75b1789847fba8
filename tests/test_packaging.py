"""Every package directory in the tree is listed in pyproject.toml (else a non-editable install drops it)."""

import pathlib

import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_all_packages_listed():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    for name, where in cfg["package-dir"].items():
        base = ROOT / where
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            pkg = ".".join((name, *rel.parts))
            assert pkg in listed, f"{pkg} ({init.parent}) missing from [tool.setuptools] packages"
