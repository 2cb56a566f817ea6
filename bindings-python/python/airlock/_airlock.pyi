# Type stub of the native module `airlock._airlock` (bindings-python/src). Checked against the
# built module by `python -m mypy.stubtest airlock` in the test suite, so it cannot drift.
import builtins
import os
from io import BufferedReader
from types import TracebackType
from typing import Literal, Optional, Protocol, Sequence, Union, final

from typing_extensions import Buffer, Self

__version__: str
__all__ = [
    "Classification",
    "CorsDecision",
    "CorsPolicy",
    "ImagePreprocess",
    "KeyRing",
    "LoggingHandle",
    "Model",
    "ModelStatus",
    "OutputTensor",
    "RequestScope",
    "Stored",
    "UploadStore",
    "__version__",
    "_panic_for_tests",
    "audit_event",
    "error_codes",
    "generate_key",
    "init_logging",
    "parse_filename",
    "sanitize_filename",
]

class _BinaryReader(Protocol):
    def read(self, n: int = ..., /) -> bytes: ...

_Name = Union[str, bytes]
_Body = Union[bytes, bytearray, memoryview, Buffer, _BinaryReader]
_Path = Union[str, os.PathLike[str]]

def sanitize_filename(name: _Name) -> str: ...
def parse_filename(name: _Name) -> str: ...
def error_codes() -> list[str]: ...
def generate_key() -> str: ...
def _panic_for_tests() -> None: ...

@final
class Stored:
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...

@final
class UploadStore:
    def __new__(
        cls,
        path: _Path,
        *,
        max_size: int = ...,
        allowed_extensions: Optional[Sequence[str]] = None,
        conflict: Literal["rename", "refuse"] = "rename",
        durability: Literal["fsync", "none"] = "fsync",
        check_content: bool = True,
        file_mode: int = 0o640,
        create_dir: bool = False,
        stale_after: float = 60.0,
    ) -> UploadStore: ...
    def save(self, client_name: _Name, data: _Body) -> Stored: ...
    def open(self, name: _Name) -> BufferedReader: ...
    def list(self) -> builtins.list[str]: ...
    def remove(self, name: _Name) -> None: ...
    @property
    def max_size(self) -> int: ...
    @property
    def allowed_extensions(self) -> Optional[builtins.list[str]]: ...

@final
class ImagePreprocess:
    def __new__(
        cls,
        width: int,
        height: int,
        *,
        channels: Literal["rgb", "bgr", "gray"] = "rgb",
        pixel_scale: float = 1.0,
        mean: tuple[float, float, float] = ...,
        std: tuple[float, float, float] = ...,
        layout: Literal["nhwc", "nchw", "flat"] = "nhwc",
        max_width: int = 10000,
        max_height: int = 10000,
        max_pixels: int = 40000000,
    ) -> ImagePreprocess: ...
    @property
    def input_shape(self) -> list[int]: ...
    def tensor(self, image: bytes) -> list[float]: ...

@final
class ModelStatus:
    @property
    def state(self) -> Literal["not_loaded", "loading", "ready", "failed"]: ...
    @property
    def ready(self) -> bool: ...
    @property
    def load_time(self) -> Optional[float]: ...
    @property
    def error_code(self) -> Optional[str]: ...
    @property
    def error(self) -> Optional[str]: ...
    @property
    def attempts(self) -> int: ...
    @property
    def retry_in(self) -> Optional[float]: ...
    @property
    def since(self) -> Optional[float]: ...
    def __bool__(self) -> bool: ...

@final
class Classification:
    @property
    def scores(self) -> list[float]: ...
    @property
    def labels(self) -> Optional[list[str]]: ...
    @property
    def top_index(self) -> int: ...
    @property
    def top_score(self) -> float: ...
    @property
    def top_label(self) -> str: ...
    def as_dict(self) -> list[tuple[str, float]]: ...

@final
class OutputTensor:
    @property
    def shape(self) -> list[int]: ...
    @property
    def data(self) -> list[float]: ...

_Floats = Union[Sequence[float], Buffer]

@final
class Model:
    def __new__(
        cls,
        path: _Path,
        *,
        input_shape: Optional[Sequence[int]] = None,
        image: Optional[ImagePreprocess] = None,
        sha256: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
        backoff: tuple[float, float] = ...,
        max_model_bytes: Optional[int] = None,
        max_image_bytes: Optional[int] = None,
    ) -> Model: ...
    def status(self) -> ModelStatus: ...
    def start_loading(self) -> None: ...
    def wait_ready(self, timeout: Optional[float] = None) -> ModelStatus: ...
    def reload(self) -> ModelStatus: ...
    @property
    def load_attempts(self) -> int: ...
    def run(self, input: _Floats, *, timeout: Optional[float] = None) -> list[OutputTensor]: ...
    def classify(self, input: _Floats, *, timeout: Optional[float] = None) -> Classification: ...
    def classify_image(self, image: bytes, *, timeout: Optional[float] = None) -> Classification: ...
    def classify_stored(
        self, store: UploadStore, name: _Name, *, timeout: Optional[float] = None
    ) -> Classification: ...

@final
class KeyRing:
    @staticmethod
    def from_env(
        name: str, *, mode_var: str = "APP_ENV", refresh_interval: Optional[float] = None
    ) -> KeyRing: ...
    def verify(self, presented: Union[str, bytes]) -> str: ...
    def refresh(self) -> bool: ...
    @property
    def is_production(self) -> bool: ...
    @property
    def key_ids(self) -> list[str]: ...

@final
class CorsDecision:
    @property
    def allowed(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    def header(self, name: str) -> Optional[str]: ...
    def __bool__(self) -> bool: ...

@final
class CorsPolicy:
    def __new__(
        cls,
        origins: Sequence[str],
        *,
        allow_credentials: bool = False,
        allow_methods: Optional[Sequence[str]] = None,
        allow_headers: Optional[Sequence[str]] = None,
        expose_headers: Optional[Sequence[str]] = None,
        max_age: int = ...,
        allow_private_network: bool = False,
        allow_private_network_origins: Optional[Sequence[str]] = None,
    ) -> CorsPolicy: ...
    def decide(
        self,
        origin: Optional[str],
        method: str,
        *,
        request_headers: Sequence[str] = ...,
        preflight: bool = False,
        private_network: bool = False,
        quiet: bool = False,
    ) -> CorsDecision: ...

@final
class LoggingHandle:
    @property
    def dropped_events(self) -> int: ...
    @property
    def audit_path(self) -> str: ...
    def flush(self) -> None: ...
    def shutdown(self) -> None: ...

def init_logging(
    audit_dir: _Path,
    *,
    app_name: Optional[str] = None,
    app_version: Optional[str] = None,
    filter: str = "info",
    max_bytes: int = ...,
    max_age: float = 86400.0,
    keep_files: int = 14,
    file_mode: int = 0o600,
    file_stem: str = "audit",
) -> LoggingHandle: ...
def audit_event(
    action: str,
    outcome: Literal["success", "failure"],
    *,
    reason: Optional[str] = None,
    detail: Optional[str] = None,
    request_id: Optional[str] = None,
    client_ip: Optional[str] = None,
    key_id: Optional[str] = None,
) -> None: ...

@final
class RequestScope:
    def __new__(cls, *, request_id: Optional[str] = None, client_ip: Optional[str] = None) -> RequestScope: ...
    def set_key_id(self, key_id: str) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
