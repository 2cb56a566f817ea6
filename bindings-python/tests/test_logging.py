"""The audit trail from Python: schema, request scope, hostile text, rotation, fork. Each
scenario runs in a fresh interpreter because logging is initialised once per process."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any, Dict, List

import airlock  # noqa: F401  (the package under test must import)
from conftest import load_json


def run(script: str, tmp_path: pathlib.Path) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(script)
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def records(path: pathlib.Path) -> List[Dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


SCHEMA = {"ts", "seq", "level", "action", "outcome", "reason", "request_id", "client_ip", "key_id", "app",
          "app_version", "message", "fields"}


def test_events_have_the_schema_and_request_fields(tmp_path: pathlib.Path) -> None:
    run(
        """
        import sys, pathlib, airlock
        root = pathlib.Path(sys.argv[1])
        handle = airlock.init_logging(root / "audit", app_name="uploads", app_version="1.2.3")
        store = airlock.UploadStore(root, allowed_extensions=["txt"], durability="none")
        with airlock.RequestScope(request_id="req-1", client_ip="203.0.113.9") as scope:
            scope.set_key_id("ops")
            store.save("../../etc/notes.txt", b"hi")
            airlock.audit_event("upload_deleted", "success", detail="notes.txt")
        try:
            store.save("evil.exe", b"x")
        except airlock.ExtensionNotAllowedError:
            pass
        try:
            airlock.init_logging(root / "audit")
        except airlock.InvalidConfigError:
            pass
        else:
            raise SystemExit("second init accepted")
        handle.flush()
        assert handle.dropped_events == 0
        print(handle.audit_path)
        """,
        tmp_path,
    )
    files = list((tmp_path / "audit").iterdir())
    assert len(files) == 1 and files[0].name == f"audit.{files[0].name.split('.')[1]}.jsonl"
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    events = records(files[0])
    assert all(SCHEMA <= set(e) for e in events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    by_action = {e["action"]: e for e in events}
    stored = by_action["upload_stored"]
    assert (stored["request_id"], stored["client_ip"], stored["key_id"]) == ("req-1", "203.0.113.9", "ops")
    assert stored["app"] == "uploads" and stored["app_version"] == "1.2.3"
    assert by_action["upload_deleted"]["request_id"] == "req-1"
    refused = by_action["upload_refused"]
    assert refused["reason"] == "extension_not_allowed" and refused["request_id"] is None
    # atexit wrote the process's shutdown event, last.
    assert events[-1]["action"] == "shutdown" and [e["action"] for e in events].count("shutdown") == 1


def test_a_request_scope_used_across_threads_is_a_runtime_error(tmp_path: pathlib.Path) -> None:
    """Entering on one thread and exiting on another is misuse: a RuntimeError (an Exception),
    never PyO3's PanicException; set_key_id works from any thread; events after the scope are
    not tagged with it."""
    run(
        """
        import sys, pathlib, threading, airlock
        root = pathlib.Path(sys.argv[1])
        handle = airlock.init_logging(root / "audit")
        scope = airlock.RequestScope(request_id="req-x")
        scope.__enter__()
        seen = []
        def elsewhere() -> None:
            scope.set_key_id("ops")
            try:
                scope.__exit__(None, None, None)
            except RuntimeError as e:
                seen.append(str(e))
        t = threading.Thread(target=elsewhere)
        t.start(); t.join()
        assert seen == ["RequestScope must be exited on the thread that entered it"], seen
        airlock.audit_event("inside", "success")
        scope.__exit__(None, None, None)
        scope.__exit__(None, None, None)   # a second exit is a no-op
        airlock.audit_event("outside", "success")
        try:
            with scope:
                with scope:
                    pass
        except RuntimeError as e:
            assert "already entered" in str(e)
        else:
            raise SystemExit("nested enter accepted")
        airlock.audit_event("after", "success")
        handle.flush()
        """,
        tmp_path,
    )
    (audit,) = list((tmp_path / "audit").iterdir())
    by_action = {e["action"]: e for e in records(audit)}
    assert (by_action["inside"]["request_id"], by_action["inside"]["key_id"]) == ("req-x", "ops")
    assert by_action["outside"]["request_id"] is None
    assert by_action["after"]["request_id"] is None


def test_lone_surrogates_are_replaced_not_raised(tmp_path: pathlib.Path) -> None:
    """A str from a hostile header may hold lone surrogates (not UTF-8): the event is still
    written, with U+FFFD in their place, instead of the audit call raising and the event
    going missing."""
    run(
        """
        import sys, pathlib, airlock
        root = pathlib.Path(sys.argv[1])
        airlock.init_logging(root / "audit")
        bad = "evil\\udcff\\r\\nname"
        with airlock.RequestScope(request_id=bad, client_ip="\\ud800") as scope:
            scope.set_key_id(bad)
            airlock.audit_event(bad, "failure", reason=bad, detail=bad)
        """,
        tmp_path,
    )
    (audit,) = (tmp_path / "audit").iterdir()
    (event,) = [e for e in records(audit) if e["outcome"] == "failure"]
    for value in (event["action"], event["reason"], event["request_id"], event["key_id"], event["fields"]["detail"]):
        assert value.startswith("evil\ufffd") and "\r" not in value and "\n" not in value, value
        assert value.endswith("name") and "\udcff" not in value, value
    assert set(event["client_ip"]) == {"\ufffd"}


def test_hostile_text_cannot_forge_lines(tmp_path: pathlib.Path) -> None:
    names = [v["name"] for v in load_json("vectors/filenames.json")]
    origins = [c["origin"] for c in load_json("vectors/cors.json") if c["origin"]]
    (tmp_path / "inputs.json").write_text(json.dumps({"names": names, "origins": origins}))
    result = run(
        """
        import sys, json, pathlib, airlock
        root = pathlib.Path(sys.argv[1])
        inputs = json.loads((root / "inputs.json").read_text())
        airlock.init_logging(root / "audit")
        store = airlock.UploadStore(root / "store", create_dir=True, allowed_extensions=["png"], durability="none")
        policy = airlock.CorsPolicy(["https://app.example.com"])
        expected = 2  # the policy's config_loaded, and shutdown at exit
        for name in inputs["names"]:
            try:
                store.save(name, b"not a png")
                raise SystemExit(f"stored {name!r}")
            except airlock.AirlockError:
                pass
            airlock.audit_event(name, "failure", reason=name, detail=name, request_id=name, client_ip=name)
            expected += 2
        for origin in inputs["origins"]:
            expected += not policy.decide(origin, "GET").allowed
        print(expected)
        """,
        tmp_path,
    )
    expected = int(result.stdout)
    (audit,) = (tmp_path / "audit").iterdir()
    text = audit.read_text(encoding="utf-8")
    lines = text.split("\n")
    assert lines[-1] == ""
    events = [json.loads(line) for line in lines[:-1]]  # every line is one whole JSON object
    # One line per event emitted, nothing more: no hostile text started a line of its own.
    assert len(events) == expected
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["action"] for e in events if e["outcome"] != "failure"] == ["config_loaded", "shutdown"]
    for e in events:
        for value in (e["action"], e["reason"], e["request_id"], e["client_ip"]):
            assert value is None or all(c >= " " and c != "\x7f" for c in value)


def test_files_rotate_by_size(tmp_path: pathlib.Path) -> None:
    run(
        """
        import sys, pathlib, airlock
        root = pathlib.Path(sys.argv[1])
        airlock.init_logging(root / "audit", max_bytes=2000, keep_files=3)
        for i in range(200):
            airlock.audit_event("tick", "success", detail=str(i))
        """,
        tmp_path,
    )
    files = sorted(p.name for p in (tmp_path / "audit").iterdir())
    assert 2 <= len(files) <= 4, files
    assert any(f.endswith(".jsonl") for f in files) and any(f[-1].isdigit() for f in files)
    assert all(p.stat().st_size < 4000 for p in (tmp_path / "audit").iterdir())


def test_a_forked_child_writes_its_own_file(tmp_path: pathlib.Path) -> None:
    run(
        """
        import os, sys, pathlib, airlock
        root = pathlib.Path(sys.argv[1])
        handle = airlock.init_logging(root / "audit")
        airlock.audit_event("before_fork", "success")
        pid = os.fork()
        if pid == 0:
            airlock.audit_event("in_child", "success")
            os._exit(0 if str(os.getpid()) in str(handle.audit_path) else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        airlock.audit_event("in_parent", "success")
        """,
        tmp_path,
    )
    files = {int(p.name.split(".")[1]): records(p) for p in (tmp_path / "audit").iterdir()}
    assert len(files) == 2
    actions = sorted([e["action"] for e in events] for events in files.values())
    # The child left with os._exit (no atexit), the parent wrote its shutdown event.
    assert actions == [["before_fork", "in_parent", "shutdown"], ["in_child"]]
    assert all(events[0]["seq"] == 1 for events in files.values())
