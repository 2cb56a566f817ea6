"""A reference upload server: Flask, with Airlock doing every risky part.

Adopt it route by route. What each Airlock piece replaces in a typical Flask upload app:

* ``werkzeug.secure_filename`` + ``os.path.join`` + ``file.save``  ->  ``UploadStore.save``
  (safe names, confinement, streaming, atomic no-replace commit, cleanup on failure);
* ``send_from_directory``  ->  ``UploadStore.open`` with the strict ``parse_filename`` lookup;
* a model loaded at import time (requests racing the load)  ->  ``Model`` with ``status()``,
  background loading and fail-fast inference (503 + ``Retry-After`` until ready);
* ``API_KEY = "dev-key"`` in the source  ->  ``KeyRing.from_env`` (refuses placeholders in
  production, constant-time verification, key ids for rotation);
* ``CORS(app)`` (every origin)  ->  ``CorsPolicy`` (exact origins, one-label wildcards);
* ``print`` / console logs  ->  ``init_logging`` (a rotating audit trail with a fixed schema).

Configuration comes only from the environment (see ``Settings.from_env``). Serve it with
gunicorn and TLS (``gunicorn.conf.py``), never with the Flask development server.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from typing import Any, Dict, Optional, Tuple

import flask
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

import airlock

# Status codes by Airlock's stable error codes: the one place a code becomes HTTP.
STATUS: Dict[str, int] = {
    "invalid_name": 400,
    "extension_not_allowed": 415,
    "content_mismatch": 415,
    "too_large": 413,
    "already_exists": 409,
    "not_found": 404,
    "not_regular_file": 404,
    "escape_attempt": 404,  # never confirm that something exists outside the store
    "upload_aborted": 400,
    "storage_full": 507,
    "unauthorized": 401,
    "model_not_ready": 503,
    "model_failed": 503,
    "model_timeout": 503,
    "invalid_input": 422,
    "image_decode": 422,
    "image_too_large": 422,
}

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

MIME = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "webp": "image/webp", "pdf": "application/pdf"}


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the server needs, read from the environment once at startup."""

    upload_dir: str
    audit_dir: str
    model_path: str
    model_sha256: Optional[str]
    cors_origins: list[str]
    cors_credentials: bool
    cors_methods: list[str]
    cors_headers: list[str]
    cors_private_network: bool
    allowed_extensions: Optional[list[str]]  # None: any extension
    max_upload_bytes: int
    max_files_per_request: int
    audit_max_bytes: int
    model_load: str  # "startup" (in each worker, after the fork) or "lazy" (on first use)

    @staticmethod
    def from_env(env: "os._Environ[str] | Dict[str, str]" = os.environ) -> "Settings":
        def need(name: str) -> str:
            value = env.get(name, "")
            if not value:
                raise airlock.InvalidConfigError(f"{name} is not set")
            return value

        def flag(name: str) -> bool:
            value = env.get(name, "false").lower()
            if value not in ("true", "false", "1", "0"):
                raise airlock.InvalidConfigError(f"{name} must be true or false")
            return value in ("true", "1")

        extensions = env.get("AIRLOCK_ALLOWED_EXTENSIONS", "jpg,jpeg,png")
        model_load = env.get("AIRLOCK_MODEL_LOAD", "startup")
        if model_load not in ("startup", "lazy"):
            raise airlock.InvalidConfigError("AIRLOCK_MODEL_LOAD must be 'startup' or 'lazy'")
        return Settings(
            upload_dir=need("AIRLOCK_UPLOAD_DIR"),
            audit_dir=need("AIRLOCK_AUDIT_DIR"),
            model_path=need("AIRLOCK_MODEL"),
            model_sha256=env.get("AIRLOCK_MODEL_SHA256") or None,
            cors_origins=_list(env.get("AIRLOCK_CORS_ORIGINS", "")),
            cors_credentials=flag("AIRLOCK_CORS_CREDENTIALS"),
            cors_methods=_list(env.get("AIRLOCK_CORS_METHODS", "GET,POST,DELETE")),
            cors_headers=_list(env.get("AIRLOCK_CORS_HEADERS", "content-type,x-api-key,authorization")),
            cors_private_network=flag("AIRLOCK_CORS_PRIVATE_NETWORK"),
            allowed_extensions=None if extensions.strip() == "*" else _list(extensions),
            max_upload_bytes=int(env.get("AIRLOCK_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024))),
            max_files_per_request=int(env.get("AIRLOCK_MAX_FILES", "16")),
            audit_max_bytes=int(env.get("AIRLOCK_AUDIT_MAX_BYTES", str(10 * 1024 * 1024))),
            model_load=model_load,
        )


@dataclasses.dataclass
class Services:
    """The Airlock objects the routes use; created once, before gunicorn forks its workers."""

    settings: Settings
    store: airlock.UploadStore
    model: airlock.Model
    keys: airlock.KeyRing
    cors: airlock.CorsPolicy
    logging: airlock.LoggingHandle


def open_nsfw(path: str, sha256: Optional[str]) -> airlock.Model:
    """The model the team runs: open-nsfw (224x224 BGR, Caffe means, NHWC)."""
    pre = airlock.ImagePreprocess(224, 224, channels="bgr", mean=(104.0, 117.0, 123.0), layout="nhwc")
    return airlock.Model(path, image=pre, sha256=sha256, labels=["safe", "nsfw"])


def create_services(settings: Settings) -> Services:
    # Logging first, so the key and model events below land in the audit trail.
    handle = airlock.init_logging(settings.audit_dir, app_name="airlock-reference-server",
                                  app_version=airlock.__version__, max_bytes=settings.audit_max_bytes)
    # Refuses a missing, placeholder or weak key in production: the server does not start.
    keys = airlock.KeyRing.from_env("UPLOAD_API_KEY")
    return Services(
        settings=settings,
        store=airlock.UploadStore(settings.upload_dir, allowed_extensions=settings.allowed_extensions,
                                  max_size=settings.max_upload_bytes, create_dir=True),
        model=open_nsfw(settings.model_path, settings.model_sha256),
        keys=keys,
        cors=airlock.CorsPolicy(settings.cors_origins, allow_credentials=settings.cors_credentials,
                                allow_methods=settings.cors_methods, allow_headers=settings.cors_headers,
                                allow_private_network=settings.cors_private_network,
                                expose_headers=["x-request-id"]),
        logging=handle,
    )


def error_response(code: str, message: str, status: int, headers: Optional[Dict[str, str]] = None) -> flask.Response:
    response = flask.jsonify(error=code, message=message)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def airlock_error(e: airlock.AirlockError) -> flask.Response:
    headers: Dict[str, str] = {}
    if isinstance(e, (airlock.ModelNotReadyError, airlock.ModelTimeoutError)):
        headers["Retry-After"] = "1"
    elif isinstance(e, airlock.ModelFailedError):
        headers["Retry-After"] = str(max(1, int(e.retry_in or 1)))
    elif isinstance(e, airlock.UnauthorizedError):
        headers["WWW-Authenticate"] = 'Bearer realm="uploads"'
    status = STATUS.get(e.code, 500)
    # 5xx messages could describe internals; the code is enough for a client.
    message = str(e) if status < 500 or status == 503 else "internal error"
    return error_response(e.code, message, status, headers)


def create_app(settings: Optional[Settings] = None) -> flask.Flask:
    services = create_services(settings or Settings.from_env())
    s = services.settings
    app = flask.Flask(__name__)
    # werkzeug refuses a larger request body with 413 before parsing it.
    app.config["MAX_CONTENT_LENGTH"] = s.max_upload_bytes * s.max_files_per_request + 64 * 1024
    app.extensions["airlock"] = services
    airlock.audit_event("startup", "success", detail=f"pid {os.getpid()}")

    @app.before_request
    def open_scope() -> Optional[flask.Response]:
        request_id = secrets.token_hex(8)
        flask.g.request_id = request_id
        scope = airlock.RequestScope(request_id=request_id, client_ip=flask.request.remote_addr)
        scope.__enter__()
        flask.g.scope = scope
        return check_cors()

    def check_cors() -> Optional[flask.Response]:
        origin = flask.request.headers.get("Origin")
        preflight = flask.request.method == "OPTIONS" and "Access-Control-Request-Method" in flask.request.headers
        method = flask.request.headers.get("Access-Control-Request-Method", "") if preflight else flask.request.method
        requested = _list(flask.request.headers.get("Access-Control-Request-Headers", ""))
        private = flask.request.headers.get("Access-Control-Request-Private-Network") == "true"
        decision = services.cors.decide(origin, method, request_headers=requested, preflight=preflight,
                                        private_network=private)
        flask.g.cors_headers = decision.headers
        if preflight:
            return flask.Response(status=204 if decision.allowed else 403)
        if origin is not None and not decision.allowed:
            # A browser would hide the answer anyway; refusing also stops the side effects of
            # a cross-site POST or DELETE.
            return error_response("cors_refused", decision.reason, 403)
        return None

    @app.after_request
    def headers(response: flask.Response) -> flask.Response:
        for name, value in getattr(flask.g, "cors_headers", []):
            response.headers[name] = value
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Cache-Control", "no-store")
        if "request_id" in flask.g:
            response.headers["X-Request-Id"] = flask.g.request_id
        return response

    @app.teardown_request
    def close_scope(_: Optional[BaseException]) -> None:
        scope = flask.g.pop("scope", None)
        if scope is not None:
            scope.__exit__(None, None, None)

    @app.errorhandler(airlock.AirlockError)
    def on_airlock_error(e: airlock.AirlockError) -> flask.Response:
        return airlock_error(e)

    @app.errorhandler(RequestEntityTooLarge)
    def on_too_large(e: RequestEntityTooLarge) -> flask.Response:
        airlock.audit_event("upload_refused", "failure", reason="too_large", detail="request body over the limit")
        return error_response("too_large", "the request body is too large", 413)

    @app.errorhandler(HTTPException)
    def on_http_error(e: HTTPException) -> flask.Response:
        return error_response(str(e.name).lower().replace(" ", "_"), e.description or "", e.code or 500)

    def require_key() -> str:
        presented = flask.request.headers.get("X-API-Key")
        auth = flask.request.headers.get("Authorization", "")
        if presented is None and auth.startswith("Bearer "):
            presented = auth[len("Bearer "):]
        # Missing and wrong keys get the same answer (and both are audit events).
        key_id = services.keys.verify(presented or "")
        flask.g.scope.set_key_id(key_id)
        return key_id

    @app.get("/healthz")
    def healthz() -> Tuple[Dict[str, Any], int]:
        # Liveness never depends on the model.
        return {"status": "ok"}, 200

    @app.get("/readyz")
    def readyz() -> Tuple[Dict[str, Any], int, Dict[str, str]]:
        status = services.model.status()
        if status.ready:
            return {"ready": True, "state": status.state}, 200, {}
        services.model.start_loading()
        body = {"ready": False, "state": status.state, "reason": status.error_code or status.state}
        return body, 503, {"Retry-After": "1"}

    @app.post("/uploads")
    def upload() -> Tuple[Dict[str, Any], int]:
        require_key()
        files: list[FileStorage] = flask.request.files.getlist("file")
        if not files:
            return {"error": "no_files", "message": "send one or more multipart parts named 'file'"}, 400
        if len(files) > s.max_files_per_request:
            return {"error": "too_many_files", "message": f"at most {s.max_files_per_request} files"}, 400
        results = []
        for f in files:
            try:
                stored = services.store.save(f.filename or "", f.stream)
                results.append({"client_name": f.filename, "stored": stored.name, "size": stored.size,
                                "sha256": stored.sha256})
            except airlock.AirlockError as e:
                results.append({"client_name": f.filename, "error": e.code, "message": str(e)})
        stored_any = any("stored" in r for r in results)
        if not stored_any and len(results) == 1:
            # A single refused file answers with its own status (413, 415, ...).
            return {"results": results}, STATUS.get(str(results[0]["error"]), 400)
        return {"results": results}, 201 if stored_any else 400

    @app.get("/uploads")
    def list_uploads() -> Dict[str, Any]:
        return {"files": services.store.list()}

    @app.get("/uploads/<path:name>")
    def download(name: str) -> flask.Response:
        f = services.store.open(name)  # strict lookup: anything sanitize would change is refused
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        return flask.send_file(f, mimetype=MIME.get(ext, "application/octet-stream"), as_attachment=True,
                               download_name=name, conditional=False, etag=False)

    @app.delete("/uploads/<path:name>")
    def delete(name: str) -> Tuple[str, int]:
        require_key()
        services.store.remove(name)
        airlock.audit_event("upload_deleted", "success", detail=name)
        return "", 204

    @app.post("/uploads/<path:name>/classify")
    def classify(name: str) -> Dict[str, Any]:
        require_key()
        # Fail fast while the model loads: 503 + Retry-After, never a blocked worker or a 500.
        result = services.model.classify_stored(services.store, name, timeout=0)
        airlock.audit_event("upload_classified", "success", detail=f"{name}: {result.top_label}")
        return {"name": name, "label": result.top_label, "score": result.top_score,
                "scores": dict(result.as_dict())}

    return app
