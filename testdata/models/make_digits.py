#!/usr/bin/env python3
"""Generate the `digits` ONNX test model and its held-out reference data.

Pinned versions (see requirements.txt beside this file; Python 3.11):
    numpy==2.4.6  scikit-learn==1.9.1  scipy==1.17.1  onnx==1.23.2
    optional check: onnxruntime==1.32.0

What it does:
  1. trains scikit-learn's MLPClassifier (one hidden ReLU layer of 32 units)
     on sklearn.datasets.load_digits (8x8 images, pixel values 0..16) scaled
     by 1/16, with a fixed stratified 75/25 train/test split;
  2. writes the same network as an ONNX graph built by hand with onnx.helper
     (Div -> MatMul -> Add -> Relu -> MatMul -> Add -> Softmax), opset 13,
     IR version 8, input `input` float32[N,64] of raw 0..16 pixels, output
     `probabilities` float32[N,10];
  3. writes digits.onnx, digits.onnx.sha256 and digits_test.csv (the held-out
     split with sklearn's predictions and probabilities);
  4. checks that a pure-numpy float32 forward pass of the graph's math matches
     sklearn's predict_proba to 1e-5 (and onnxruntime too, if it is installed).

The output is deterministic: fixed seeds, single-threaded BLAS, no
timestamps. Run it twice and the files are byte-identical.

Usage:  python make_digits.py [--out-dir DIR]   (default: this script's folder)
"""

import os

# Single-threaded BLAS so the training arithmetic does not depend on the
# thread count. Must be set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import hashlib
import random
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import sklearn
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

SEED = 0
HIDDEN = 32
MAX_ITER = 2000
PIXEL_SCALE = 16.0
OPSET = 13
IR_VERSION = 8
TOLERANCE = 1e-5

MODEL_NAME = "digits.onnx"
CSV_NAME = "digits_test.csv"


def train():
    digits = load_digits()
    X = digits.data.astype(np.int64)  # 1797 x 64, integer values 0..16
    y = digits.target.astype(np.int64)
    assert X.min() >= 0 and X.max() <= 16
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED, stratify=y
    )
    clf = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        activation="relu",
        solver="adam",
        max_iter=MAX_ITER,
        random_state=SEED,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X_train / PIXEL_SCALE, y_train)
    assert list(clf.classes_) == list(range(10)), clf.classes_
    assert clf.out_activation_ == "softmax", clf.out_activation_
    return clf, X_test, y_test


def weights(clf):
    w1, w2 = (w.astype(np.float32) for w in clf.coefs_)
    b1, b2 = (b.astype(np.float32) for b in clf.intercepts_)
    assert w1.shape == (64, HIDDEN) and w2.shape == (HIDDEN, 10)
    return w1, b1, w2, b2


def build_onnx(clf, accuracy):
    w1, b1, w2, b2 = weights(clf)
    initializers = [
        numpy_helper.from_array(np.array([PIXEL_SCALE], dtype=np.float32), "pixel_scale"),
        numpy_helper.from_array(w1, "W1"),
        numpy_helper.from_array(b1, "B1"),
        numpy_helper.from_array(w2, "W2"),
        numpy_helper.from_array(b2, "B2"),
    ]
    nodes = [
        helper.make_node("Div", ["input", "pixel_scale"], ["scaled"], name="scale"),
        helper.make_node("MatMul", ["scaled", "W1"], ["h_mm"], name="dense1_matmul"),
        helper.make_node("Add", ["h_mm", "B1"], ["h_pre"], name="dense1_bias"),
        helper.make_node("Relu", ["h_pre"], ["hidden"], name="relu"),
        helper.make_node("MatMul", ["hidden", "W2"], ["logits_mm"], name="dense2_matmul"),
        helper.make_node("Add", ["logits_mm", "B2"], ["logits"], name="dense2_bias"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 64])],
        outputs=[helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        initializer=initializers,
        doc_string="8x8 digit classifier: 64 raw pixels (0..16) -> probabilities for 0..9",
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="airlock make_digits.py",
        producer_version="1",
        doc_string=(
            "Handwritten-digit classifier for Airlock's tests. Made by "
            "testdata/models/make_digits.py: scikit-learn "
            f"{sklearn.__version__} MLPClassifier(hidden_layer_sizes=({HIDDEN},), "
            f"activation='relu', solver='adam', max_iter={MAX_ITER}, "
            f"random_state={SEED}) trained on sklearn.datasets.load_digits / 16 "
            "(train_test_split(test_size=0.25, random_state=0, stratify=y)); "
            "graph written by hand with onnx.helper "
            f"{onnx.__version__}. Input 'input': float32[N,64] raw pixels 0..16. "
            "Output 'probabilities': float32[N,10] softmax over digits 0..9. "
            f"Held-out accuracy {accuracy:.4f}. Digits data: UCI ML hand-written "
            "digits, shipped with scikit-learn (BSD-3-Clause)."
        ),
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def numpy_forward(clf, X):
    """The graph's math, in float32, exactly as the ONNX nodes do it."""
    w1, b1, w2, b2 = weights(clf)
    x = X.astype(np.float32) / np.float32(PIXEL_SCALE)
    h = np.maximum(x @ w1 + b1, np.float32(0))
    z = h @ w2 + b2
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def write_csv(path, X_test, y_test, pred, proba):
    header = (
        [f"px{i}" for i in range(64)]
        + ["label", "sklearn_pred"]
        + [f"p{i}" for i in range(10)]
    )
    lines = [",".join(header)]
    for x, label, p, probs in zip(X_test, y_test, pred, proba):
        fields = [str(int(v)) for v in x] + [str(int(label)), str(int(p))]
        fields += [repr(float(v)) for v in probs]
        lines.append(",".join(fields))
    path.write_bytes(("\n".join(lines) + "\n").encode("ascii"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="where to write the files (default: this script's folder)",
    )
    args = parser.parse_args()
    random.seed(SEED)
    np.random.seed(SEED)

    clf, X_test, y_test = train()
    proba = clf.predict_proba(X_test / PIXEL_SCALE)
    pred = clf.predict(X_test / PIXEL_SCALE)
    assert np.array_equal(pred, proba.argmax(axis=1))
    accuracy = float((pred == y_test).mean())
    print(f"sklearn {sklearn.__version__}: converged after {clf.n_iter_} iterations")
    print(f"held-out accuracy: {accuracy:.4f} ({int((pred == y_test).sum())}/{len(y_test)})")

    ours = numpy_forward(clf, X_test)
    err = float(np.abs(ours - proba).max())
    print(f"numpy float32 forward vs sklearn predict_proba: max abs diff {err:.3g}")
    if err > TOLERANCE or not np.array_equal(ours.argmax(axis=1), pred):
        sys.exit(f"numpy forward pass disagrees with sklearn (max abs diff {err})")

    model = build_onnx(clf, accuracy)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    model_bytes = model.SerializeToString()
    (out / MODEL_NAME).write_bytes(model_bytes)
    digest = hashlib.sha256(model_bytes).hexdigest()
    (out / f"{MODEL_NAME}.sha256").write_bytes(f"{digest}  {MODEL_NAME}\n".encode("ascii"))
    write_csv(out / CSV_NAME, X_test, y_test, pred, proba)

    # Re-load what was written and check it again.
    onnx.checker.check_model(str(out / MODEL_NAME), full_check=True)

    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: skipping the runtime check")
    else:
        sess = ort.InferenceSession(str(out / MODEL_NAME), providers=["CPUExecutionProvider"])
        (got,) = sess.run(["probabilities"], {"input": X_test.astype(np.float32)})
        rt_err = float(np.abs(got - proba).max())
        print(f"onnxruntime {ort.__version__} vs sklearn predict_proba: max abs diff {rt_err:.3g}")
        if rt_err > TOLERANCE or not np.array_equal(got.argmax(axis=1), pred):
            sys.exit(f"onnxruntime output disagrees with sklearn (max abs diff {rt_err})")

    for name in (MODEL_NAME, f"{MODEL_NAME}.sha256", CSV_NAME):
        print(f"wrote {out / name} ({(out / name).stat().st_size} bytes)")
    print(f"sha256 {digest}  {MODEL_NAME}")


if __name__ == "__main__":
    main()
