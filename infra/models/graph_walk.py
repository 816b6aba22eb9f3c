"""What the graph-surgery scripts of infra/models (dequantize.py, per_row_quant.py) share: walking an ONNX graph
with its subgraphs, and the error for a node pattern they do not know. Imported by those scripts (they run with
infra/models on sys.path); their caches' keys include this file (float-models.sh, per_row_quant.py TOOL_FILES).
"""
import onnx


class PatternError(Exception):
    pass


def all_graphs(graph):
    """The graph and every subgraph (If branches), depth first."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from all_graphs(attr.g)
            for g in attr.graphs:
                yield from all_graphs(g)
