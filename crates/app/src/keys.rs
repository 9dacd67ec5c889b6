//! The master key (seals secrets kept in the database) and the configured signing key.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;

use kernel::SealingKey;
use secrecy::ExposeSecret as _;
use tokens::SigningKey;

use crate::error::AppError;
use crate::settings::KeySettings;

/// The master key from configuration, else from its key file, else a new one written to the
/// key file (0600) — reported with a warning, since losing it loses what it sealed.
pub fn load_master_key(settings: &KeySettings) -> Result<SealingKey, AppError> {
    if let Some(encoded) = &settings.master_key {
        return SealingKey::from_base64(encoded.expose_secret())
            .map_err(|e| AppError::Keys(format!("keys.master_key: {e}")));
    }
    let path = &settings.master_key_file;
    let read = |path: &std::path::Path| -> Result<SealingKey, AppError> {
        let encoded = std::fs::read_to_string(path)?;
        SealingKey::from_base64(&encoded)
            .map_err(|e| AppError::Keys(format!("{}: {e}", path.display())))
    };
    if path.exists() {
        return read(path);
    }
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
            file.write_all(encoded.as_bytes())?;
            file.sync_all()?;
            tracing::warn!(
                path = %path.display(),
                "no master key configured: generated one and saved it to this file. \
                 Back it up, or set NUDGESCRIBE__KEYS__MASTER_KEY; without it, secrets sealed \
                 in the database cannot be read"
            );
            SealingKey::from_base64(&encoded).map_err(AppError::from)
        }
        // Another instance created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(e.into()),
    }
}

/// The signing key given in configuration (inline PEM or a PEM file), if any.
pub fn configured_signing_key(settings: &KeySettings) -> Result<Option<SigningKey>, AppError> {
    let pem = match (&settings.signing_key, &settings.signing_key_file) {
        (Some(pem), _) => pem.expose_secret().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            AppError::Keys(format!("keys.signing_key_file {}: {e}", path.display()))
        })?,
        (None, None) => return Ok(None),
    };
    SigningKey::from_pem(&pem).map(Some).map_err(AppError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path) -> KeySettings {
        KeySettings {
            master_key: None,
            master_key_file: dir.join("keys/master.key"),
            signing_key: None,
            signing_key_file: None,
            message_master_keys: None,
            message_master_key_file: dir.join("keys/message-master.keys"),
        }
    }

    #[test]
    fn a_generated_master_key_is_kept_for_the_next_start() -> Result<(), AppError> {
        let dir = std::env::temp_dir().join(format!("ns-keys-{}", uuid_like()));
        let settings = settings(&dir);
        let first = load_master_key(&settings)?;
        let sealed = first.seal(b"secret", b"")?;
        let second = load_master_key(&settings)?;
        assert_eq!(second.open(&sealed, b"")?, b"secret");
        let mode = std::fs::metadata(&settings.master_key_file)?.permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        std::fs::remove_dir_all(dir)?;
        Ok(())
    }

    #[test]
    fn a_configured_master_key_must_be_32_bytes() {
        let mut settings = settings(std::path::Path::new("/nonexistent"));
        settings.master_key = Some("dG9vIHNob3J0".into());
        assert!(load_master_key(&settings).is_err());
    }

    fn uuid_like() -> String {
        kernel::seal::random_bytes::<8>()
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
            .unwrap_or_default()
    }
}
