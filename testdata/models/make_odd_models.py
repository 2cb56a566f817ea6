"""Generate the small, deliberately odd ONNX models the model-handle tests load.

Each is valid protobuf; each exercises a failure or timing path of `airlock::Model`:

- `odd_dangling_output.onnx`: a graph output that no node produces (tract 0.23.9 panics on it).
- `odd_constantofshape_bomb.onnx`: ConstantOfShape asked for 2^62 elements (an allocation bomb
  that tract 0.23.9 panics on).
- `odd_unknown_op.onnx`: a node of an operator no ONNX opset defines.
- `odd_cycle.onnx`: two Relu nodes feeding each other (a graph that is not a DAG).
- `odd_external_data_escape.onnx`: a weight whose external data lives at `../../../../../../../../etc/hostname`,
  outside the model's directory; it must never be read.
- `slow_chain.onnx`: input [1, 64] through a long chain of MatMul + Add + Relu nodes that share
  one weight: numerically boring, but slow to optimise, so tests can observe the `loading`
  state and time out a wait.

Usage: python make_odd_models.py [--out-dir DIR]. Requires `onnx` (see requirements.txt).
Deterministic: no randomness, no timestamps.
"""
import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 13)]


def model(graph, doc):
    m = helper.make_model(graph, opset_imports=OPSET, producer_name="airlock-tests", doc_string=doc)
    m.ir_version = 8
    return m


def dangling_output():
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    ghost = helper.make_tensor_value_info("ghost", TensorProto.FLOAT, [1, 64])
    relu = helper.make_node("Relu", ["input"], ["y"])
    g = helper.make_graph([relu], "dangling", [x], [y, ghost])
    return model(g, "graph output 'ghost' is produced by no node")


def constantofshape_bomb():
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    shape = numpy_helper.from_array(np.array([1 << 31, 1 << 31], dtype=np.int64), "shape")
    cos = helper.make_node("ConstantOfShape", ["shape"], ["big"],
                           value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))
    add = helper.make_node("Add", ["input", "big"], ["y"])
    g = helper.make_graph([cos, add], "bomb", [x], [y], initializer=[shape])
    return model(g, "ConstantOfShape of 2^62 elements")


def unknown_op():
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    node = helper.make_node("AirlockNoSuchOp", ["input"], ["y"])
    return model(helper.make_graph([node], "unknown_op", [x], [y]), "an operator no opset defines")


def cycle():
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    add = helper.make_node("Add", ["input", "b"], ["a"])
    relu_a = helper.make_node("Relu", ["a"], ["b"])
    relu_b = helper.make_node("Relu", ["b"], ["y"])
    return model(helper.make_graph([add, relu_a, relu_b], "cycle", [x], [y]), "a -> b -> a")


def external_data_escape():
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    w = TensorProto()
    w.name = "W"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([64, 64])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../../../../../../../../etc/hostname"), ("offset", "0"), ("length", "16384")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("MatMul", ["input", "W"], ["y"])
    return model(helper.make_graph([node], "external_escape", [x], [y], initializer=[w]),
                 "a weight stored outside the model directory")


def slow_chain(n=600):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    w = numpy_helper.from_array((np.eye(64, dtype=np.float32) * 0.5), "W")
    b = numpy_helper.from_array(np.full(64, 0.25, dtype=np.float32), "B")
    nodes, prev = [], "input"
    for i in range(n):
        nodes.append(helper.make_node("MatMul", [prev, "W"], [f"m{i}"]))
        nodes.append(helper.make_node("Add", [f"m{i}", "B"], [f"a{i}"]))
        out = "y" if i == n - 1 else f"r{i}"
        nodes.append(helper.make_node("Relu", [f"a{i}"], [out]))
        prev = out
    g = helper.make_graph(nodes, "slow_chain", [x], [y], initializer=[w, b])
    return model(g, f"{n} x (MatMul, Add, Relu) sharing one weight; slow to optimise")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--chain", type=int, default=600)
    args = ap.parse_args()
    for name, m in [
        ("odd_dangling_output.onnx", dangling_output()),
        ("odd_constantofshape_bomb.onnx", constantofshape_bomb()),
        ("odd_unknown_op.onnx", unknown_op()),
        ("odd_cycle.onnx", cycle()),
        ("odd_external_data_escape.onnx", external_data_escape()),
        ("slow_chain.onnx", slow_chain(args.chain)),
    ]:
        path = args.out_dir / name
        path.write_bytes(m.SerializeToString())
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
