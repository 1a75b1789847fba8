"""`import edgeseg` and its runtime modules must work without torch, TensorRT and CuPy."""

import subprocess
import sys
import textwrap

# A meta-path finder that makes the heavy optional dependencies unimportable, as on a lean box.
BLOCKER = textwrap.dedent(
    """
    import sys
    class _Block:
        BLOCKED = ("torch", "torchvision", "tensorrt", "cupy", "onnx", "cv2", "matplotlib")
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ImportError("blocked for this test: " + name)
            return None
    sys.meta_path.insert(0, _Block())
    """
)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_blocker_really_blocks():
    res = _run("import torch")
    assert res.returncode != 0 and "blocked for this test" in res.stderr


def test_import_edgeseg_without_heavy_deps():
    res = _run(
        """
        import pkgutil, importlib, edgeseg
        for mod in pkgutil.walk_packages(edgeseg.__path__, "edgeseg."):
            if not mod.name.endswith("__main__"):
                importlib.import_module(mod.name)
        print("ok", edgeseg.__version__)
        """
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok ")


def test_cli_help_and_info_without_heavy_deps():
    res = _run(
        """
        import sys
        from edgeseg.cli import main
        sys.argv = ["edgeseg", "info", "--json"]
        main()
        """
    )
    assert res.returncode == 0, res.stderr
    assert '"tensorrt": {\n    "installed": false' in res.stdout
