"""The baseline of the server benchmark: the same routes built the way a Flask team does it
today (werkzeug's secure_filename + FileStorage.save, send_from_directory, flask-cors,
onnxruntime with PIL + numpy preprocessing, an API key compared with hmac.compare_digest).
Served by gunicorn with the same settings as the reference server. Not for production: it is
what Airlock replaces."""

from __future__ import annotations

import hmac
import io
import os
from typing import Any, Dict, Tuple

import flask
import numpy as np
import onnxruntime as ort
from flask_cors import CORS
from PIL import Image
from werkzeug.utils import secure_filename

UPLOADS = os.environ["AIRLOCK_UPLOAD_DIR"]
os.makedirs(UPLOADS, exist_ok=True)
API_KEY = os.environ["UPLOAD_API_KEY"].split(":", 1)[-1]
session = ort.InferenceSession(os.environ["AIRLOCK_MODEL"], providers=["CPUExecutionProvider"])
INPUT = session.get_inputs()[0].name

app = flask.Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
CORS(app, origins=os.environ.get("AIRLOCK_CORS_ORIGINS", "").split(","))


def authorized() -> bool:
    return hmac.compare_digest(flask.request.headers.get("X-API-Key", ""), API_KEY)


def preprocess(data: bytes) -> Any:
    image = Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224), Image.BILINEAR)
    bgr = np.asarray(image, dtype=np.float32)[:, :, ::-1]
    return (bgr - np.array([104.0, 117.0, 123.0], dtype=np.float32))[None, ...]


@app.get("/healthz")
def healthz() -> Dict[str, str]:
    return {"status": "ok"}


@app.post("/uploads")
def upload() -> Tuple[Dict[str, Any], int]:
    if not authorized():
        return {"error": "unauthorized"}, 401
    results = []
    for f in flask.request.files.getlist("file"):
        name = secure_filename(f.filename or "")
        f.save(os.path.join(UPLOADS, name))
        results.append({"stored": name})
    return {"results": results}, 201


@app.get("/uploads")
def list_uploads() -> Dict[str, Any]:
    return {"files": sorted(os.listdir(UPLOADS))}


@app.get("/uploads/<path:name>")
def download(name: str) -> flask.Response:
    return flask.send_from_directory(UPLOADS, name, as_attachment=True)


@app.post("/uploads/<path:name>/classify")
def classify(name: str) -> Tuple[Dict[str, Any], int]:
    if not authorized():
        return {"error": "unauthorized"}, 401
    with open(os.path.join(UPLOADS, secure_filename(name)), "rb") as f:
        scores = session.run(None, {INPUT: preprocess(f.read())})[0][0]
    return {"label": ["safe", "nsfw"][int(np.argmax(scores))], "scores": scores.tolist()}, 200
