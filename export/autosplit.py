"""Find where to cut an ONNX segmentation model: the latest single-tensor cut with a small task network.

Usage: ``cut = find_cut(model, image="input", task_out="logits")``; ``cut.tensor``, ``cut.table``

The rule is the one the torch exporter applies to its own module boundaries (edgeseg_export.split): among the
4-D tensors whose cut is crossed by that tensor alone (everything the task side needs from the feature side
is that tensor), take the latest, in graph order, whose task side costs ≤ 10 % of the FLOPs. FLOPs count
Conv, ConvTranspose, MatMul and Gemm (2 per multiply-accumulate) from the inferred shapes, as torch's flop
counter does. The graph must have gone through shape inference (symbolic batch dimensions count as 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeseg.errors import ExportError

TASK_SHARE_LIMIT = 0.10


@dataclass
class GraphCut:
    tensor: str | None
    table: list = field(default_factory=list)  # [(tensor, task_share)] single-tensor cuts after it, graph order


class Graph:
    """Producers, initializers and shapes of an ONNX graph, and the crossing of any cut."""

    def __init__(self, g, image: str):
        self.g, self.image = g, image
        self.inits = {i.name for i in g.initializer}
        self.produced = {o: n for n in g.node for o in n.output}
        self.shapes = {vi.name: _dims(vi) for vi in (*g.value_info, *g.output, *g.input)}
        self.shapes.update({i.name: list(i.dims) for i in g.initializer})

    def ancestors(self, tensor: str) -> set[int]:
        """ids of the nodes `tensor` depends on (itself produced by one of them)."""
        seen, stack = set(), [tensor]
        while stack:
            node = self.produced.get(stack.pop())
            if node is not None and id(node) not in seen:
                seen.add(id(node))
                stack.extend(i for i in node.input if i)
        return seen

    def task_side(self, feature_nodes: set[int], task_out: str) -> tuple[set[int], list[str]]:
        """(task node ids, sorted crossing tensors): nodes reachable backwards from task_out, stopping at
        tensors the feature side produces (or the image): those cross the cut."""
        task_nodes, crossing, stack = set(), set(), [task_out]
        while stack:
            name = stack.pop()
            if name in self.inits:
                continue
            if name == self.image or (name in self.produced and id(self.produced[name]) in feature_nodes):
                crossing.add(name)
                continue
            node = self.produced.get(name)
            if node is None or id(node) in task_nodes:
                continue
            task_nodes.add(id(node))
            stack.extend(i for i in node.input if i)
        return task_nodes, sorted(crossing)

    def node_flops(self, node) -> float:
        out = [max(d, 1) if isinstance(d, int) else 1 for d in self.shapes.get(node.output[0], [])]
        if not out:
            return 0.0
        numel = float(_prod(out))
        if node.op_type in ("Conv", "ConvTranspose") and len(node.input) > 1:
            w = self.shapes.get(node.input[1], [])
            if len(w) < 3:
                return 0.0
            if node.op_type == "ConvTranspose":
                inp = [max(d, 1) if isinstance(d, int) else 1 for d in self.shapes.get(node.input[0], [])]
                return 2.0 * _prod(inp) * _prod(w[1:])
            return 2.0 * numel * _prod(w[1:])
        if node.op_type in ("MatMul", "Gemm"):
            a = self.shapes.get(node.input[0], [])
            if not a or not isinstance(a[-1], int):
                return 0.0
            trans_a = any(at.name == "transA" and at.i for at in node.attribute)
            k = a[-2] if trans_a and len(a) >= 2 else a[-1]
            return 2.0 * numel * k
        return 0.0


def _prod(xs) -> float:
    p = 1.0
    for x in xs:
        p *= x
    return p


def _dims(vi) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in vi.type.tensor_type.shape.dim]


def find_cut(g, *, image: str, task_out: str, limit: float = TASK_SHARE_LIMIT) -> GraphCut:
    """Every single-tensor 4-D cut with its task share; the chosen one (None if no cut meets the rule)."""
    graph = Graph(g, image)
    flops = {id(n): graph.node_flops(n) for n in g.node}
    total = sum(flops[i] for i in graph.ancestors(task_out)) or 1.0
    table = []  # scanned from the output backwards, up to the first cut that meets the rule
    for node in reversed(g.node):
        for t in node.output:
            if t == task_out or len(graph.shapes.get(t, [])) != 4:
                continue
            task_nodes, crossing = graph.task_side(graph.ancestors(t), task_out)
            if crossing == [t] and task_nodes:
                share = sum(flops[i] for i in task_nodes) / total
                table.insert(0, (t, share))
                if share <= limit:
                    return GraphCut(t, table)
    return GraphCut(None, table)


def no_cut_error(path, table, limit: float = TASK_SHARE_LIMIT) -> ExportError:
    """One line: no cut meets the rule; the candidates (the last few single-tensor cuts) with their shares."""
    shown = ", ".join(f"{t} ({share:.0%})" for t, share in table[-8:]) or "none"
    return ExportError(f"{path}: --split auto: no single-tensor cut leaves the task network ≤ {limit:.0%} of the "
                       f"FLOPs; candidates (task share): {shown}; give --split TENSOR")
