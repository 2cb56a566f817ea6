//! API keys from the environment, stored as digests only, verified in constant time.
//!
//! A [`KeyRing`] reads `NAME` or `NAME_FILE` (the Docker/Kubernetes convention; both set is an
//! error), refuses weak keys in production, keeps only a SHA-256 of each key (the plaintext is
//! zeroized right after loading), and verifies a presented key against every active key
//! without an early exit. Nothing prints a key: `Debug` shows ids and fingerprints, there is no
//! `Display` and no serialisation, and errors name the variable and the rule only.
//!
//! # Ambient Authority
//!
//! Reading `NAME_FILE` opens the path it names. The path is configuration, set by whoever runs
//! the process; symlinks are followed (Kubernetes mounts secrets through `..data` links), and
//! the checks are made on the opened descriptor.

mod rules;

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

pub use rules::{estimated_bits, weakness, Weakness, MIN_KEY_BITS, MIN_KEY_CHARS};

use crate::error::{Error, Result};
use crate::events;

/// Largest `NAME_FILE` read.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Prefix of keys made by [`generate_key`], so secret scanners can find leaked ones.
pub const KEY_PREFIX: &str = "alk_";

/// A new random API key: [`KEY_PREFIX`] and 43 base62 characters (256 bits).
///
/// ```
/// let key = airlock::generate_key();
/// assert!(key.starts_with("alk_") && key.len() == 47);
/// ```
pub fn generate_key() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut key = String::from(KEY_PREFIX);
    let mut byte = [0u8; 1];
    while key.len() < KEY_PREFIX.len() + 43 {
        // Rejection sampling: 248 = 4 × 62, so accepted bytes are uniform over the alphabet.
        getrandom::fill(&mut byte).expect("the operating system's random number generator failed");
        if byte[0] < 248 {
            key.push(ALPHABET[(byte[0] % 62) as usize] as char);
        }
    }
    key
}

/// The id of a key: given as `id:key` in the variable, or derived from the key's digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// The id as text (never secret).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

struct Key {
    id: KeyId,
    digest: [u8; 32],
}

/// Where a key ring came from, and how it is configured.
#[derive(Clone, Debug)]
pub struct KeyRingOptions {
    mode_var: String,
    refresh_interval: Duration,
}

impl Default for KeyRingOptions {
    fn default() -> Self {
        KeyRingOptions { mode_var: "APP_ENV".into(), refresh_interval: Duration::from_secs(1) }
    }
}

impl KeyRingOptions {
    /// Defaults: production mode from `APP_ENV`, `NAME_FILE` checked for changes at most once a
    /// second.
    pub fn new() -> Self {
        Self::default()
    }

    /// The variable deciding production mode: `development`, `dev` or `test` mean development;
    /// unset or anything else means production (fail safe).
    pub fn mode_var(mut self, name: &str) -> Self {
        self.mode_var = name.to_owned();
        self
    }

    /// How often `verify` checks whether `NAME_FILE` changed.
    pub fn refresh_interval(mut self, every: Duration) -> Self {
        self.refresh_interval = every;
        self
    }
}

/// Active API keys, as digests.
///
/// ```
/// let key = airlock::generate_key();
/// let ring = airlock::KeyRing::from_lookup("API_KEY", airlock::KeyRingOptions::new(), |var| {
///     (var == "API_KEY").then(|| format!("main:{key}").into())
/// })?;
/// assert_eq!(ring.verify(key.as_bytes())?.as_str(), "main");
/// assert!(ring.verify(b"wrong").is_err());
/// assert!(!format!("{ring:?}").contains(&key[4..]));
/// # Ok::<(), airlock::Error>(())
/// ```
pub struct KeyRing {
    variable: String,
    production: bool,
    file: Option<PathBuf>,
    keys: ArcSwap<Vec<Key>>,
    refresh: Mutex<Refresh>,
    options: KeyRingOptions,
}

struct Refresh {
    checked: Instant,
    stamp: Option<(u64, u64, i64, i64, u64)>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.load();
        let shown: Vec<String> =
            keys.iter().map(|k| format!("{} (sha256:{})", k.id, fingerprint(&k.digest))).collect();
        f.debug_struct("KeyRing")
            .field("variable", &self.variable)
            .field("source", &if self.file.is_some() { "file" } else { "environment" })
            .field("production", &self.production)
            .field("keys", &shown)
            .finish()
    }
}

fn fingerprint(digest: &[u8; 32]) -> String {
    // A digest of the digest: identifies a key in logs without giving away its own digest.
    Sha256::digest(digest)[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn config_error(variable: &str, rule: &str) -> Error {
    Error::InvalidConfig { reason: format!("{variable}: {rule}") }
}

fn is_production(mode: Option<OsString>) -> bool {
    let Some(mode) = mode else { return true };
    let mode = mode.to_string_lossy().trim().to_ascii_lowercase();
    !matches!(mode.as_str(), "development" | "dev" | "test")
}

/// Parses `id:key,id:key,key` into digests; the plaintext never leaves this function.
fn parse_keys(variable: &str, value: &str, production: bool) -> Result<Vec<Key>> {
    if value.is_empty() {
        return Err(config_error(variable, "is empty; set it to a key made with airlock-keygen"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(config_error(variable, "contains whitespace or control characters"));
    }
    let mut keys: Vec<Key> = Vec::new();
    for entry in value.split(',') {
        let (id, key) = match entry.split_once(':') {
            Some((id, key))
                if !id.is_empty()
                    && id.len() <= 32
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                (Some(id), key)
            }
            _ => (None, entry),
        };
        if key.is_empty() {
            return Err(config_error(variable, "has an empty key entry"));
        }
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let id = KeyId(id.map(str::to_owned).unwrap_or_else(|| format!("key-{}", fingerprint(&digest))));
        if keys.iter().any(|k| k.id == id) {
            return Err(config_error(variable, &format!("key id {id} appears twice")));
        }
        if let Some(weak) = weakness(key) {
            if production {
                return Err(config_error(
                    variable,
                    &format!(
                        "key {id} is {} ({}); refused in production (generate one with airlock-keygen)",
                        weak.describe(),
                        weak.code()
                    ),
                ));
            }
            events::weak_key_accepted(variable, id.as_str(), weak.code());
        }
        keys.push(Key { id, digest });
    }
    Ok(keys)
}

/// Reads and checks a key file; checks are made on the opened descriptor, not the path.
fn read_key_file(variable: &str, path: &std::path::Path) -> Result<(Zeroizing<String>, (u64, u64, i64, i64, u64))> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: a FIFO at the path must not hang startup; it is refused just below.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| config_error(variable, &format!("cannot open the key file: {e}")))?;
    let meta = file.metadata().map_err(|e| config_error(variable, &format!("cannot stat the key file: {e}")))?;
    if !meta.is_file() {
        return Err(config_error(variable, "the key file is not a regular file"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(config_error(variable, "the key file is writable by group or others"));
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(config_error(variable, "the key file is larger than 64 KiB"));
    }
    // Room for the largest accepted file and the byte that proves it too large, allocated
    // once: a growing buffer would leave unwiped copies of the key behind in freed memory.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_BYTES as usize + 2));
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| config_error(variable, &format!("cannot read the key file: {e}")))?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(config_error(variable, "the key file is larger than 64 KiB"));
    }
    // Exactly one trailing newline is the file's line ending, not part of the key.
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| config_error(variable, "the key file is not UTF-8"))?;
    let stamp = (meta.dev(), meta.ino(), meta.mtime(), meta.mtime_nsec(), meta.len());
    Ok((Zeroizing::new(text.to_owned()), stamp))
}

impl KeyRing {
    /// Loads keys from the environment variable `name`, or from the file named by `name_FILE`.
    /// Production mode comes from `APP_ENV`. See [`KeyRing::from_env_with`].
    pub fn from_env(name: &str) -> Result<KeyRing> {
        KeyRing::from_env_with(name, KeyRingOptions::new())
    }

    /// [`KeyRing::from_env`] with options.
    ///
    /// The value is one key, or several separated by commas for rotation, each optionally
    /// named `id:key`. Missing or empty is an error naming the variable: there is no default.
    pub fn from_env_with(name: &str, options: KeyRingOptions) -> Result<KeyRing> {
        KeyRing::from_lookup(name, options, |var| std::env::var_os(var))
    }

    /// Like [`KeyRing::from_env_with`], reading variables through `lookup` (a configuration
    /// system, or a test) instead of the process environment.
    ///
    /// A refusal is also a `config_rejected` audit event naming the variable and the rule.
    pub fn from_lookup(
        name: &str,
        options: KeyRingOptions,
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<KeyRing> {
        let loaded = KeyRing::load(name, options, lookup);
        if let Err(e) = &loaded {
            events::config_rejected(name, e);
        }
        loaded
    }

    fn load(name: &str, options: KeyRingOptions, lookup: impl Fn(&str) -> Option<OsString>) -> Result<KeyRing> {
        let file_var = format!("{name}_FILE");
        let production = is_production(lookup(&options.mode_var));
        // A value that is not UTF-8 is refused below; its bytes are wiped first.
        let direct = lookup(name).map(|v| {
            v.into_string().map(Zeroizing::new).map_err(|rejected| {
                use std::os::unix::ffi::OsStringExt;
                drop(Zeroizing::new(rejected.into_vec()));
            })
        });
        let file = lookup(&file_var).map(PathBuf::from);
        let (keys, file, stamp) = match (direct, file) {
            (Some(_), Some(_)) => {
                return Err(config_error(name, &format!("both {name} and {file_var} are set; set exactly one")));
            }
            (None, None) => {
                return Err(config_error(name, &format!("neither {name} nor {file_var} is set")));
            }
            (Some(value), None) => {
                let value = value.map_err(|_| config_error(name, "is not valid UTF-8"))?;
                (parse_keys(name, &value, production)?, None, None)
            }
            (None, Some(path)) => {
                let (text, stamp) = read_key_file(&file_var, &path)?;
                (parse_keys(&file_var, &text, production)?, Some(path), Some(stamp))
            }
        };
        let ring = KeyRing {
            variable: if file.is_some() { file_var } else { name.to_owned() },
            production,
            file,
            keys: ArcSwap::from_pointee(keys),
            refresh: Mutex::new(Refresh { checked: Instant::now(), stamp }),
            options,
        };
        events::keys_loaded(&ring.variable, ring.key_ids().len(), production);
        Ok(ring)
    }

    /// Whether production rules apply.
    pub fn is_production(&self) -> bool {
        self.production
    }

    /// The ids of the active keys.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys.load().iter().map(|k| k.id.clone()).collect()
    }

    /// Checks a presented key against every active key in constant time (fixed-size digests,
    /// no early exit across keys), and returns the id of the one that matched. Any bytes are
    /// accepted as input; a refusal is [`Error::Unauthorized`] and an `authn_token_fail` audit
    /// event. Re-reads `NAME_FILE` first if it changed (checked at most once per interval).
    pub fn verify(&self, presented: &[u8]) -> Result<KeyId> {
        self.refresh_if_due();
        let digest: [u8; 32] = Sha256::digest(presented).into();
        let keys = self.keys.load();
        let mut found = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, key) in keys.iter().enumerate() {
            let hit = digest.ct_eq(&key.digest);
            index.conditional_assign(&(i as u32), hit & !found);
            found |= hit;
        }
        if bool::from(found) {
            let id = keys[index as usize].id.clone();
            events::key_verified(&self.variable, id.as_str());
            Ok(id)
        } else {
            events::key_refused(&self.variable);
            Err(Error::Unauthorized)
        }
    }

    /// Re-reads `NAME_FILE` now if it changed. `Ok(true)` when new keys were loaded. A file that
    /// fails the checks leaves the current keys in service and returns the error.
    pub fn refresh(&self) -> Result<bool> {
        let Some(path) = &self.file else { return Ok(false) };
        let mut state = self.refresh.lock().unwrap_or_else(|e| e.into_inner());
        state.checked = Instant::now();
        let (text, stamp) = read_key_file(&self.variable, path)?;
        if state.stamp == Some(stamp) {
            return Ok(false);
        }
        let keys = parse_keys(&self.variable, &text, self.production)?;
        self.keys.store(Arc::new(keys));
        state.stamp = Some(stamp);
        events::keys_loaded(&self.variable, self.key_ids().len(), self.production);
        Ok(true)
    }

    fn refresh_if_due(&self) {
        if self.file.is_none() {
            return;
        }
        {
            let state = self.refresh.lock().unwrap_or_else(|e| e.into_inner());
            if state.checked.elapsed() < self.options.refresh_interval {
                return;
            }
        }
        if let Err(e) = self.refresh() {
            events::keys_rejected(&self.variable, &e);
        }
    }
}
