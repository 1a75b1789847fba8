"""A failed `edgeseg export` leaves no directory it created and nothing partial; a directory that existed is left
as it was; a successful one leaves no staging directory. Bad weights files say what they are, in one line that
ends at a word or sentence."""

from __future__ import annotations

import json
from pathlib import Path

import export_cli
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeseg.backend.bundle import load_bundle

pytest.importorskip("torch")
REFERENCE_WEIGHTS = Path(__file__).parents[2] / "models" / "reference" / "weights.pt"


def _save(path, nodes, inits, inp, out):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(inp[0], TensorProto.FLOAT, inp[1])],
                              [helper.make_tensor_value_info(out[0], TensorProto.FLOAT, out[1])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    from onnx import checker, save

    checker.check_model(model)
    save(model, str(path))
    return path


def _seg_onnx(path):
    """A small segmentation network: 3×3 convs 3→16→16, ReLU, 1×1 conv 16→4 scores at the input size."""
    rng = np.random.default_rng(0)
    w = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32) * 0.2, n)
         for n, s in (("w1", (16, 3, 3, 3)), ("w2", (16, 16, 3, 3)), ("w3", (4, 16, 1, 1)))]
    return _save(path, [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
                        helper.make_node("Relu", ["a"], ["b"]),
                        helper.make_node("Conv", ["b", "w2"], ["c"], pads=[1, 1, 1, 1]),
                        helper.make_node("Relu", ["c"], ["feat"]),
                        helper.make_node("Conv", ["feat", "w3"], ["scores"])],
                 w, ("x", [1, 3, 32, 32]), ("scores", [1, 4, 32, 32]))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    (d / "notes.pt").write_text("epoch 9: loss 0.12\nthese are my training notes, not weights\n")
    _save(d / "classifier.onnx", [helper.make_node("MatMul", ["x", "w"], ["y"])],
          [numpy_helper.from_array(np.ones((8, 4), np.float32), "w")], ("x", ["N", 8]), ("y", ["N", 4]))
    (d / "garbage.onnx").write_bytes(bytes(range(256)) * 4)
    _seg_onnx(d / "seg.onnx")
    (d / "two.json").write_text('["road", "sky"]')
    return d


CASES = {  # args after `export`, with {i} for the inputs and {o} for --out; a piece of the one Error line
    "missing weights": (["reference", "--weights", "{i}/nope.pt"], "no such weights file"),
    "wrong class count": (["reference", "--weights", str(REFERENCE_WEIGHTS), "--num-classes", "5"],
                          "weights do not fit reference"),
    "a text file as weights": (["reference", "--weights", "{i}/notes.pt"],
                               "notes.pt: not a PyTorch state dict (a text file, not a checkpoint written by "
                               "torch.save)"),
    "a non-segmentation ONNX": (["{i}/classifier.onnx"], "classifier.onnx: not a segmentation model (its input x "
                                                         "has rank 2, not N×3×H×W images)"),
    "a garbage ONNX": (["{i}/garbage.onnx"], "garbage.onnx: not a readable ONNX model"),
    "classes that do not fit, found after the split is written": (
        ["{i}/seg.onnx", "--split", "feat", "--classes", "{i}/two.json"], "2 class names for 4 output channels"),
}


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("out", ["new", "existing"])
def test_failed_export_leaves_nothing(name, out, inputs, tmp_path):
    args, expect = CASES[name]
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "old.txt").write_text("an older bundle's file")
    before = _tree(tmp_path)
    line = export_cli.fails(*[a.format(i=inputs, o=tmp_path / out) for a in args], "--out", tmp_path / out,
                            "--input-size", "32x32", "--no-engines")
    assert expect in line, line
    assert _tree(tmp_path) == before  # nothing created, nothing partial, the existing directory as it was


def test_text_weights_message_is_whole_words_on_one_line(inputs, tmp_path):
    line = export_cli.fails("reference", "--weights", inputs / "notes.pt", "--out", tmp_path / "b")
    assert line == (f"Error: {inputs / 'notes.pt'}: not a PyTorch state dict (a text file, not a checkpoint written "
                    "by torch.save)")


def test_brief_cuts_at_a_sentence_or_a_word():
    from edgeseg_export.checkpoint import brief

    torch_text = ("Weights only load failed. In PyTorch 2.6, we changed the default value of the `weights_only` "
                  "argument in `torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set "
                  "to `False` will likely succeed")
    short = brief(torch_text, 120)
    assert len(short) <= 121 and short.endswith("…") and torch_text.startswith(short[:-1])
    assert torch_text[len(short) - 1] == " "  # the cut falls between words
    assert brief("First sentence is here. Second one is much longer than the limit allows", 40) == \
        "First sentence is here."
    assert brief("short\n  enough") == "short enough"


def test_success_leaves_no_staging_and_replaces_files_in_an_existing_directory(inputs, tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    (tmp_path / "b" / "feature.onnx").write_bytes(b"an older export")
    export_cli.ok(inputs / "seg.onnx", "--split", "feat", "--out", tmp_path / "b", "--no-engines")
    b = load_bundle(tmp_path / "b")
    assert b.feature_shape == (16, 32, 32) and b.num_classes == 4
    assert (tmp_path / "b" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no .b.partial-* left
    export_cli.ok(inputs / "seg.onnx", "--split", "feat", "--out", tmp_path / "c", "--no-engines")
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["model"] == "seg"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "c"]
