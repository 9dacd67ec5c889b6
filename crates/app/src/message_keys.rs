//! Message master keys: the ring that wraps every workspace's data key, from configuration
//! (`keys.message_master_keys`) or from a key file that `keys rotate-master` rewrites.
//!
//! A running server keeps working through a rotation: when a data key names a master key its
//! ring lacks, it reads the key file again before giving up; and it looks at the file at most
//! every few seconds to start wrapping new data keys under the new active key.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use campaigns::ports::MasterKeys;
use campaigns::{MasterKey, MasterKeyRing};
use kernel::SealingKey;
use secrecy::ExposeSecret as _;

use crate::error::AppError;
use crate::settings::KeySettings;

/// How often a server looks for a rotated key file, for the key that wraps new data keys.
const FILE_CHECK_EVERY: Duration = Duration::from_secs(5);

/// Keys separated by commas or lines (blank lines and `#` comments ignored), the first active.
pub fn parse_message_keys(text: &str) -> Result<Vec<MasterKey>, String> {
    let keys: Vec<MasterKey> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .enumerate()
        .map(|(i, entry)| {
            let bytes = STANDARD
                .decode(entry)
                .map_err(|_| format!("key {} is not base64", i + 1))?;
            MasterKey::from_bytes(&bytes)
                .map_err(|_| format!("key {} is not 32 bytes (base64-encoded)", i + 1))
        })
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Err("no key given".into());
    }
    Ok(keys)
}

fn ring_of(text: &str, origin: &str) -> Result<MasterKeyRing, AppError> {
    let keys = parse_message_keys(text).map_err(|e| AppError::Keys(format!("{origin}: {e}")))?;
    MasterKeyRing::new(keys).map_err(|e| AppError::Keys(format!("{origin}: {e}")))
}

fn read_ring(path: &Path) -> Result<(MasterKeyRing, Option<SystemTime>), AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AppError::Keys(format!("{}: {e}", path.display())))?;
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    Ok((ring_of(&text, &path.display().to_string())?, modified))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Writes `text` to `path` in one step (a temporary file renamed over it), mode 0600.
fn replace_file(path: &Path, text: &str) -> Result<(), AppError> {
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

/// Where the ring comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    Configured,
    File(PathBuf),
}

/// The message master keys a server (or an operator command) works with.
pub struct MessageKeys {
    source: KeySource,
    ring: RwLock<Arc<MasterKeyRing>>,
    /// When the key file was last looked at, and its modification time then.
    checked: Mutex<(Instant, Option<SystemTime>)>,
}

impl std::fmt::Debug for MessageKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageKeys")
            .field("source", &self.source)
            .field("ids", &self.ring().ids())
            .finish()
    }
}

impl MessageKeys {
    /// The configured keys, else the key file's, else a new key written to the key file (0600)
    /// — reported with a warning, since losing it loses every message.
    pub fn load(settings: &KeySettings) -> Result<Self, AppError> {
        if let Some(keys) = &settings.message_master_keys {
            let ring = ring_of(keys.expose_secret(), "keys.message_master_keys")?;
            return Ok(Self::new(KeySource::Configured, ring, None));
        }
        let path = &settings.message_master_key_file;
        if !path.exists() {
            generate_key_file(path)?;
        }
        let (ring, modified) = read_ring(path)?;
        Ok(Self::new(KeySource::File(path.clone()), ring, modified))
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "the key file is looked at again by real time"
    )]
    fn new(source: KeySource, ring: MasterKeyRing, modified: Option<SystemTime>) -> Self {
        Self {
            source,
            ring: RwLock::new(Arc::new(ring)),
            checked: Mutex::new((Instant::now(), modified)),
        }
    }

    #[must_use]
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The ring as it is now.
    #[must_use]
    pub fn ring(&self) -> Arc<MasterKeyRing> {
        self.ring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the key file again if it changed (or unconditionally with `force`).
    #[allow(
        clippy::disallowed_methods,
        reason = "the key file is looked at again by real time"
    )]
    fn refresh(&self, force: bool) {
        let KeySource::File(path) = &self.source else {
            return;
        };
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        if !force && checked.0.elapsed() < FILE_CHECK_EVERY {
            return;
        }
        let now_modified = modified(path);
        checked.0 = Instant::now();
        if !force && now_modified == checked.1 {
            return;
        }
        match read_ring(path) {
            Ok((ring, modified)) => {
                checked.1 = modified;
                *self.ring.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(ring);
            }
            Err(error) => tracing::warn!(%error, "could not reload the message master keys"),
        }
    }

    /// For `keys rotate-master` on a key file: a new key, first in the file (the older ones
    /// stay, so that nothing they wrap becomes unreadable). Returns its id.
    pub fn add_generated_key(&self) -> Result<String, AppError> {
        let KeySource::File(path) = &self.source else {
            return Err(AppError::Keys(
                "the message master keys come from configuration: put the new key first in \
                 NUDGESCRIBE__KEYS__MESSAGE_MASTER_KEYS on every instance, then run \
                 `nudgescribe keys rotate-master --rewrap-only`"
                    .into(),
            ));
        };
        let encoded = SealingKey::generate_base64()?;
        let bytes = STANDARD
            .decode(&encoded)
            .map_err(|e| AppError::Keys(e.to_string()))?;
        let id = MasterKey::from_bytes(&bytes)?.id().to_owned();
        let existing = std::fs::read_to_string(path)?;
        replace_file(
            path,
            &format!("{encoded}\n{}", existing.trim_start_matches('\n')),
        )?;
        self.refresh(true);
        Ok(id)
    }
}

impl MasterKeys for MessageKeys {
    fn active(&self) -> Arc<MasterKey> {
        self.refresh(false);
        self.ring().active()
    }

    fn get(&self, id: &str) -> Option<Arc<MasterKey>> {
        if let Some(key) = self.ring().get(id) {
            return Some(key);
        }
        // Rotated by another process since this one last looked?
        self.refresh(true);
        self.ring().get(id)
    }
}

fn generate_key_file(path: &Path) -> Result<(), AppError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let encoded = SealingKey::generate_base64()?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(format!("{encoded}\n").as_bytes())?;
            file.sync_all()?;
            tracing::warn!(
                path = %path.display(),
                "no message master key configured: generated one and saved it to this file. \
                 Back it up, or set NUDGESCRIBE__KEYS__MESSAGE_MASTER_KEYS; without it, no \
                 published message can be read"
            );
            Ok(())
        }
        // Another instance created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    fn id(byte: u8) -> String {
        MasterKey::from_bytes(&[byte; 32])
            .map(|k| k.id().to_owned())
            .unwrap_or_default()
    }

    fn temp_dir() -> PathBuf {
        let suffix: String = kernel::seal::random_bytes::<8>()
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
            .unwrap_or_default();
        std::env::temp_dir().join(format!("ns-message-keys-{suffix}"))
    }

    fn settings(file: PathBuf, configured: Option<String>) -> KeySettings {
        KeySettings {
            master_key: None,
            master_key_file: file.with_file_name("master.key"),
            signing_key: None,
            signing_key_file: None,
            message_master_keys: configured.map(Into::into),
            message_master_key_file: file,
        }
    }

    #[test]
    fn keys_parse_from_lists_and_lines() {
        let parsed = parse_message_keys(&format!(" {}, {}\n# old\n{}\n\n", key(1), key(2), key(3)));
        let ids: Vec<String> = parsed
            .unwrap_or_default()
            .iter()
            .map(|k| k.id().to_owned())
            .collect();
        assert_eq!(ids, vec![id(1), id(2), id(3)]);
        assert!(parse_message_keys("").is_err());
        assert!(parse_message_keys("not base64!").is_err());
        assert!(parse_message_keys("c2hvcnQ=").is_err());
    }

    #[test]
    fn configured_keys_win_and_the_first_is_active() -> Result<(), AppError> {
        let keys = MessageKeys::load(&settings(
            PathBuf::from("/nonexistent/keys"),
            Some(format!("{},{}", key(2), key(1))),
        ))?;
        assert_eq!(keys.active().id(), id(2));
        assert!(keys.get(&id(1)).is_some());
        assert!(keys.add_generated_key().is_err());
        Ok(())
    }

    #[test]
    fn a_generated_key_file_is_kept_and_a_rotation_is_seen_by_a_running_server()
    -> Result<(), AppError> {
        let dir = temp_dir();
        let file = dir.join("message-master.keys");
        let server = MessageKeys::load(&settings(file.clone(), None))?;
        let first = server.active().id().to_owned();
        let mode = std::fs::metadata(&file)?.permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        assert_eq!(
            MessageKeys::load(&settings(file.clone(), None))?
                .active()
                .id(),
            first,
            "a restart reads the same key"
        );

        // The operator command, in another process, adds a key.
        let operator = MessageKeys::load(&settings(file.clone(), None))?;
        let new = operator.add_generated_key()?;
        assert_eq!(operator.active().id(), new);
        assert_eq!(operator.ring().ids(), vec![new.clone(), first.clone()]);

        // The server finds the new key the moment a data key names it.
        assert!(server.get(&new).is_some());
        assert!(server.get(&first).is_some());
        std::fs::remove_dir_all(dir)?;
        Ok(())
    }
}
