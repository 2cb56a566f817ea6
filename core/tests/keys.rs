//! API key rings: sources, file checks, production rules, rotation, constant-time verification,
//! and that no key ever appears in a log line, an error or a Debug string.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock::{generate_key, ErrorCode, KeyRing, KeyRingOptions};

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = pairs.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
    move |k| map.get(k).cloned()
}

fn ring(pairs: &[(&str, &str)]) -> airlock::Result<KeyRing> {
    KeyRing::from_lookup("API_KEY", KeyRingOptions::new(), vars(pairs))
}

fn err(pairs: &[(&str, &str)]) -> String {
    let e = ring(pairs).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
    e.to_string()
}

#[test]
fn sources_are_exclusive_and_required() {
    let key = generate_key();
    assert!(err(&[]).contains("neither API_KEY nor API_KEY_FILE"));
    assert!(err(&[("API_KEY", &key), ("API_KEY_FILE", "/nonexistent")]).contains("both"));
    assert!(err(&[("API_KEY", "")]).contains("empty"));
    assert!(err(&[("API_KEY", &format!(" {key}"))]).contains("whitespace"));
    assert!(err(&[("API_KEY", &format!("a:{key},a:{}", generate_key()))]).contains("twice"));
}

#[test]
fn production_unless_the_environment_says_otherwise() {
    for weak in ["dev-key", "changeme", "test", "secret", "password", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", "example-9f86d081884c7d659a2feaa0c55ad015", "short"] {
        // Unset mode, and unknown modes, mean production.
        for mode in [None, Some("production"), Some("staging"), Some("Develop")] {
            let mut pairs = vec![("API_KEY", weak)];
            if let Some(m) = mode {
                pairs.push(("APP_ENV", m));
            }
            let msg = err(&pairs);
            assert!(msg.contains("refused in production"), "{weak} {mode:?}: {msg}");
            // (Words as short as "test" occur in the rule's own description.)
            assert!(weak.len() < 8 || !msg.contains(weak), "the error quotes the key: {msg}");
        }
        for mode in ["development", "dev", "test", " DEV "] {
            let r = ring(&[("API_KEY", weak), ("APP_ENV", mode)]).unwrap();
            assert!(!r.is_production());
            assert!(r.verify(weak.as_bytes()).is_ok());
        }
    }
    // The mode variable's name is configurable.
    let r = KeyRing::from_lookup("API_KEY", KeyRingOptions::new().mode_var("MYAPP_MODE"),
        vars(&[("API_KEY", "dev-key"), ("MYAPP_MODE", "dev")])).unwrap();
    assert!(!r.is_production());
    assert!(KeyRing::from_lookup("API_KEY", KeyRingOptions::new().mode_var("MYAPP_MODE"),
        vars(&[("API_KEY", "dev-key"), ("APP_ENV", "dev")])).is_err());
}

#[test]
fn rotation_with_several_active_keys() {
    let (old, new) = (generate_key(), generate_key());
    let r = ring(&[("API_KEY", &format!("old:{old},new:{new}"))]).unwrap();
    assert_eq!(r.verify(old.as_bytes()).unwrap().as_str(), "old");
    assert_eq!(r.verify(new.as_bytes()).unwrap().as_str(), "new");
    assert_eq!(r.key_ids().len(), 2);
    // A bare key gets an id derived from its digest.
    let bare = ring(&[("API_KEY", &old)]).unwrap();
    assert!(bare.verify(old.as_bytes()).unwrap().as_str().starts_with("key-"));
}

#[test]
fn hostile_presented_keys_are_refused_without_panicking() {
    let key = generate_key();
    let r = ring(&[("API_KEY", &key)]).unwrap();
    let long = vec![b'a'; 1 << 20];
    let mut near = key.clone().into_bytes();
    *near.last_mut().unwrap() ^= 1;
    for presented in [&b""[..], b"\xff\xfe\x00", "ключ🔑".as_bytes(), &long, &near, &key.as_bytes()[..46],
        format!("{key}\n").as_bytes()] {
        let e = r.verify(presented).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unauthorized);
    }
}

fn key_file(dir: &std::path::Path, content: &[u8], mode: u32) -> std::path::PathBuf {
    let path = dir.join("api_key");
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn key_files_are_checked_on_the_opened_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key();
    let file_ring = |path: &std::path::Path| ring(&[("API_KEY_FILE", path.to_str().unwrap())]);
    // Exactly one trailing newline is stripped.
    let p = key_file(dir.path(), format!("{key}\n").as_bytes(), 0o600);
    assert!(file_ring(&p).unwrap().verify(key.as_bytes()).is_ok());
    for (content, why) in [
        (format!("{key}\n\n"), "whitespace"),
        (format!("{key}\r\n"), "whitespace"),
        (String::new(), "empty"),
    ] {
        let p = key_file(dir.path(), content.as_bytes(), 0o600);
        let e = file_ring(&p).unwrap_err().to_string();
        assert!(e.contains(why) && e.contains("API_KEY_FILE"), "{e}");
    }
    for mode in [0o620, 0o602, 0o622] {
        let p = key_file(dir.path(), key.as_bytes(), mode);
        let e = file_ring(&p).unwrap_err().to_string();
        assert!(e.contains("writable by group or others"), "{mode:o}: {e}");
    }
    let p = key_file(dir.path(), &vec![b'a'; 70_000], 0o600);
    assert!(file_ring(&p).unwrap_err().to_string().contains("64 KiB"));
    assert!(file_ring(dir.path()).unwrap_err().to_string().contains("not a regular file"));
    // A FIFO is refused at once instead of blocking startup.
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    assert!(file_ring(&fifo).unwrap_err().to_string().contains("not a regular file"));
    // Kubernetes-style symlinks are followed.
    let data = dir.path().join("..2026_12_03");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("api_key"), &key).unwrap();
    std::fs::set_permissions(data.join("api_key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&data, dir.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/api_key", dir.path().join("mounted")).unwrap();
    assert!(file_ring(&dir.path().join("mounted")).unwrap().verify(key.as_bytes()).is_ok());
}

#[test]
fn key_file_changes_are_picked_up_and_bad_changes_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2) = (generate_key(), generate_key());
    let path = key_file(dir.path(), k1.as_bytes(), 0o600);
    let r = KeyRing::from_lookup("API_KEY", KeyRingOptions::new().refresh_interval(Duration::ZERO),
        vars(&[("API_KEY_FILE", path.to_str().unwrap())])).unwrap();
    assert!(r.verify(k1.as_bytes()).is_ok());
    // Replace atomically, as a secret manager does.
    let tmp = dir.path().join("next");
    std::fs::write(&tmp, format!("{k2}\n")).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert!(r.verify(k2.as_bytes()).is_ok());
    assert_eq!(r.verify(k1.as_bytes()).unwrap_err().code(), ErrorCode::Unauthorized);
    // A weak replacement is refused and the current key stays active.
    std::fs::write(&tmp, "changeme").unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert!(r.refresh().is_err());
    assert!(r.verify(k2.as_bytes()).is_ok());
    assert!(r.verify(b"changeme").is_err());
}

/// Collects everything written by a tracing subscriber.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_key_appears_in_any_log_line_error_or_debug_output() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let dir = tempfile::tempdir().unwrap();
    let good = generate_key();
    let weak = "dev-key-0123";
    let mut said = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        let r = ring(&[("API_KEY", &format!("main:{good}"))]).unwrap();
        said.push(format!("{r:?}"));
        said.push(format!("{:?}", r.verify(good.as_bytes())));
        said.push(format!("{:?}", r.verify(weak.as_bytes())));
        said.push(format!("{}", r.verify(weak.as_bytes()).unwrap_err()));
        let e = ring(&[("API_KEY", weak)]).unwrap_err();
        said.push(format!("{e} {e:?}"));
        let dev = ring(&[("API_KEY", weak), ("APP_ENV", "dev")]).unwrap();
        said.push(format!("{dev:?}"));
        let p = key_file(dir.path(), weak.as_bytes(), 0o600);
        let e = ring(&[("API_KEY_FILE", p.to_str().unwrap())]).unwrap_err();
        said.push(format!("{e} {e:?}"));
    });
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("authn_token_fail") && logs.contains("authn_token_verified"), "{logs}");
    assert!(logs.contains("config_weak_key"), "{logs}");
    // Refused at load time: the reason is in the audit trail, the key is not.
    assert!(logs.contains("config_rejected") && logs.contains("refused in production"), "{logs}");
    for text in said.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains(&good[4..]), "key leaked: {text}");
        assert!(!text.contains(weak), "key leaked: {text}");
    }
}

#[test]
fn keygen_command_prints_strong_prefixed_keys() {
    let exe = env!("CARGO_BIN_EXE_airlock-keygen");
    let out = std::process::Command::new(exe).output().unwrap();
    let key = String::from_utf8(out.stdout).unwrap();
    let key = key.trim_end();
    assert!(key.starts_with("alk_") && key.len() == 47, "{key}");
    assert_eq!(airlock::keys::weakness(key), None);
    let out = std::process::Command::new(exe).args(["--id", "main"]).output().unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("main:alk_"));
    let out = std::process::Command::new(exe).args(["--id", "bad id"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let a = std::process::Command::new(exe).output().unwrap().stdout;
    assert_ne!(a, key.as_bytes(), "two keys in a row are equal");
}
