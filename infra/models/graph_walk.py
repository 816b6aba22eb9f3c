"""What the graph-surgery scripts of infra/models (dequantize.py, per_row_quant.py, ct2_graphs.py) share: walking an
ONNX graph with its subgraphs, the error for a node pattern they do not know, the sha256 + size that their manifests
record of each file, and the refusal to write weights into the repository. Imported by those scripts (they run with
infra/models on sys.path); their caches' keys include this file (float-models.sh, per_row_quant.py TOOL_FILES,
ct2_graphs.py wanted_manifest).
"""
import hashlib
import os
import sys

import onnx

# infra/models/../..: the repository these scripts live in
REPOSITORY = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


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


def file_id(path):
    """sha256 (hex) and size in bytes of a file, read in 1 MiB blocks: {"sha256": ..., "bytes": ...}, the form
    the built-from.json manifests hold (engine/precision.ts compares the sha256)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"sha256": h.hexdigest(), "bytes": os.path.getsize(path)}


def refuse_inside_repository(dest):
    """Exits (status 1, with the reason) when `dest` lies inside the repository: weights are never committed, they
    go to a cache outside it (~/.cache/fairscribe by default)."""
    if os.path.commonpath([os.path.abspath(dest), REPOSITORY]) == REPOSITORY:
        sys.exit(f"refusing to write weights inside the repository ({dest}); pick a folder outside {REPOSITORY}")
