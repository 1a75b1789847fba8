"""Run the real `edgeseg` CLI with some modules made unimportable, as on a machine without their extra.

Usage: ``python tests/block_imports.py prometheus_client[,cv2] serve --config x.toml --check``
"""

import sys


class Blocker:
    """A meta-path finder that fails the import of the named top-level modules (and their submodules)."""

    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


if __name__ == "__main__":
    blocked = sys.argv[1].split(",")
    for name in list(sys.modules):
        if name.split(".")[0] in blocked:
            del sys.modules[name]
    sys.meta_path.insert(0, Blocker(blocked))
    from edgeseg.cli import main

    sys.argv = ["edgeseg", *sys.argv[2:]]
    main()
