"""Reference outputs of open-nsfw under onnxruntime, for the Rust test that checks tract's
inference against an independent runtime on the same input tensor.

The input is a fixed pattern (no image decoding involved, so only the inference is compared):
x[i] = ((i * 7919) % 255) - 120.0 for i over the flattened [1, 224, 224, 3] NHWC tensor.

Usage: python make_open_nsfw_reference.py ASSETS_DIR > open_nsfw_reference.json
Requires numpy and onnxruntime (see ../models/requirements.txt; onnxruntime==1.32.0 used).
"""
import json
import sys

import numpy as np
import onnxruntime as ort

assets = sys.argv[1]
n = 224 * 224 * 3
x = ((np.arange(n, dtype=np.int64) * 7919) % 255 - 120).astype(np.float32).reshape(1, 224, 224, 3)
sess = ort.InferenceSession(f"{assets}/open-nsfw.onnx", providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
out = sess.run(None, {name: x})[0]
json.dump({"pattern": "((i * 7919) % 255) - 120", "shape": [1, 224, 224, 3],
           "runtime": f"onnxruntime {ort.__version__}", "output": [float(v) for v in out.ravel()]},
          sys.stdout, indent=1)
print()
