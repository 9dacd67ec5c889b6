//! Envelope encryption of messages.
//!
//! - A **master key** (from configuration, one of a ring, each named by an id derived from the
//!   key itself) wraps each workspace's **data key** with AES-256-GCM ([`kernel::SealingKey`]),
//!   bound to the account and workspace as associated data.
//! - A message is sealed with AES-256-GCM under a **per-message key** derived from the data key
//!   with HKDF-SHA256 and the message id, with a random 96-bit nonce, and bound to its workspace,
//!   campaign and message ids as associated data.
//!
//! Why per-message keys: one data key seals every message of a workspace, possibly billions;
//! random 96-bit GCM nonces under one key must stay well below 2³² encryptions. Deriving a key
//! per message id means each AES key seals exactly one value, so no nonce can repeat under a key
//! however many messages a workspace holds — and the random nonce still guards a reused id.
//!
//! Sealed message layout: `version (1) || nonce (12) || ciphertext || tag (16)`; the plaintext is
//! `flags (1) || [subject len (4, LE) || subject] || body len (4, LE) || body || [metadata JSON]`.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Prk, Salt};
use kernel::seal::{KEY_LEN, random_bytes, sha256};
use kernel::{AccountId, SealError, SealingKey, WorkspaceId};

use crate::models::{CampaignId, MessageContent, MessageId, WrappedDataKey};
use crate::ports::MasterKeys;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const KEY_ID_CONTEXT: &[u8] = b"nudgescribe/message-master-key-id/v1\0";
const DATA_KEY_CONTEXT: &[u8] = b"nudgescribe/workspace-data-key/v1\0";
const MESSAGE_KEY_SALT: &[u8] = b"nudgescribe/message-key/v1";
const MESSAGE_CONTEXT: &[u8] = b"nudgescribe/message/v1\0";

const HAS_SUBJECT: u8 = 1;
const HAS_METADATA: u8 = 2;

/// A master key of the ring: wraps and unwraps workspace data keys.
pub struct MasterKey {
    id: String,
    key: SealingKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A master key from its 32 bytes. Its id is derived from them, so that the same key has
    /// the same id on every instance and nobody has to number keys by hand.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let key = SealingKey::from_bytes(bytes)?;
        let digest = sha256(&[KEY_ID_CONTEXT, bytes].concat());
        let id = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(Self { id, key })
    }

    /// The id stored beside every data key this key wraps (16 hex digits; reveals nothing
    /// of the key).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn wrap(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        key: &DataKey,
    ) -> Result<WrappedDataKey, SealError> {
        Ok(WrappedDataKey {
            master_key_id: self.id.clone(),
            sealed: self
                .key
                .seal(&key.bytes, &data_key_binding(account, workspace))?,
        })
    }

    pub fn unwrap(
        &self,
        account: AccountId,
        workspace: WorkspaceId,
        wrapped: &WrappedDataKey,
    ) -> Result<DataKey, SealError> {
        if wrapped.master_key_id != self.id {
            return Err(SealError::CannotOpen);
        }
        let bytes = self
            .key
            .open(&wrapped.sealed, &data_key_binding(account, workspace))?;
        DataKey::from_bytes(&bytes)
    }
}

fn data_key_binding(account: AccountId, workspace: WorkspaceId) -> Vec<u8> {
    [
        DATA_KEY_CONTEXT,
        account.as_uuid().as_bytes(),
        workspace.as_uuid().as_bytes(),
    ]
    .concat()
}

/// A fixed ring of master keys: the first wraps new data keys, every one unwraps.
#[derive(Clone, Debug)]
pub struct MasterKeyRing {
    active: Arc<MasterKey>,
    older: Vec<Arc<MasterKey>>,
}

impl MasterKeyRing {
    /// A ring of `keys`, the first one active; later duplicates are dropped. Empty: `BadKey`.
    pub fn new(keys: Vec<MasterKey>) -> Result<Self, SealError> {
        let mut keys = keys.into_iter();
        let active = Arc::new(keys.next().ok_or(SealError::BadKey)?);
        let mut older: Vec<Arc<MasterKey>> = Vec::new();
        for key in keys {
            if key.id != active.id && older.iter().all(|k| k.id != key.id) {
                older.push(Arc::new(key));
            }
        }
        Ok(Self { active, older })
    }

    /// Every key id, the active one first.
    #[must_use]
    pub fn ids(&self) -> Vec<String> {
        std::iter::once(&self.active)
            .chain(&self.older)
            .map(|k| k.id.clone())
            .collect()
    }
}

impl MasterKeys for MasterKeyRing {
    fn active(&self) -> Arc<MasterKey> {
        self.active.clone()
    }

    fn get(&self, id: &str) -> Option<Arc<MasterKey>> {
        std::iter::once(&self.active)
            .chain(&self.older)
            .find(|k| k.id == id)
            .cloned()
    }
}

/// A workspace's data key: the root of the per-message keys of that workspace.
pub struct DataKey {
    bytes: [u8; KEY_LEN],
    /// HKDF-Extract done once per data key; each message then costs one HKDF-Expand.
    prk: Prk,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// What a sealed message is bound to: opening it under any other ids fails.
#[derive(Clone, Copy, Debug)]
pub struct MessageBinding {
    pub workspace: WorkspaceId,
    pub campaign: CampaignId,
    pub message: MessageId,
}

impl MessageBinding {
    fn associated_data(&self) -> [u8; MESSAGE_CONTEXT.len() + 48] {
        let mut out = [0u8; MESSAGE_CONTEXT.len() + 48];
        let (context, ids) = out.split_at_mut(MESSAGE_CONTEXT.len());
        context.copy_from_slice(MESSAGE_CONTEXT);
        for (chunk, id) in ids.chunks_exact_mut(16).zip([
            self.workspace.as_uuid(),
            self.campaign.as_uuid(),
            self.message.as_uuid(),
        ]) {
            chunk.copy_from_slice(id.as_bytes());
        }
        out
    }
}

impl DataKey {
    /// A fresh data key from the OS random source.
    pub fn generate() -> Result<Self, SealError> {
        Ok(Self::from_array(random_bytes::<KEY_LEN>()?))
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SealError::CannotOpen)?;
        Ok(Self::from_array(array))
    }

    fn from_array(bytes: [u8; KEY_LEN]) -> Self {
        let prk = Salt::new(HKDF_SHA256, MESSAGE_KEY_SALT).extract(&bytes);
        Self { bytes, prk }
    }

    fn message_key(&self, message: MessageId) -> Result<LessSafeKey, SealError> {
        let id = message.as_uuid();
        let info = [id.as_bytes().as_slice()];
        let okm = self
            .prk
            .expand(&info, &AES_256_GCM)
            .map_err(|_| SealError::BadKey)?;
        let mut key = [0u8; KEY_LEN];
        okm.fill(&mut key).map_err(|_| SealError::BadKey)?;
        let key = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| SealError::BadKey)?;
        Ok(LessSafeKey::new(key))
    }

    /// Seals `content` for the message `binding` names.
    pub fn seal(
        &self,
        binding: &MessageBinding,
        content: &MessageContent,
    ) -> Result<Vec<u8>, SealError> {
        let key = self.message_key(binding.message)?;
        let nonce = random_bytes::<NONCE_LEN>()?;
        let metadata = content
            .metadata
            .as_ref()
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|_| SealError::BadKey)?;
        let subject_len = content.subject.as_ref().map_or(0, |s| 4 + s.len());
        let plaintext_len =
            1 + subject_len + 4 + content.body.len() + metadata.as_ref().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext_len + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        encode(content, metadata.as_deref(), &mut out)?;
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(binding.associated_data()),
                out.get_mut(1 + NONCE_LEN..).ok_or(SealError::BadKey)?,
            )
            .map_err(|_| SealError::BadKey)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens a sealed message; anything but the exact bytes sealed for `binding` under this
    /// data key fails with `CannotOpen`.
    pub fn open(
        &self,
        binding: &MessageBinding,
        sealed: &[u8],
    ) -> Result<MessageContent, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::CannotOpen)?;
        if version != VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::CannotOpen);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::CannotOpen)?;
        let key = self.message_key(binding.message)?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = key
            .open_in_place(nonce, Aad::from(binding.associated_data()), &mut buffer)
            .map_err(|_| SealError::CannotOpen)?;
        decode(plaintext)
    }
}

fn push_len(out: &mut Vec<u8>, len: usize) -> Result<(), SealError> {
    let len = u32::try_from(len).map_err(|_| SealError::BadKey)?;
    out.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

fn encode(
    content: &MessageContent,
    metadata: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<(), SealError> {
    let flags = if content.subject.is_some() {
        HAS_SUBJECT
    } else {
        0
    } | if metadata.is_some() { HAS_METADATA } else { 0 };
    out.push(flags);
    if let Some(subject) = &content.subject {
        push_len(out, subject.len())?;
        out.extend_from_slice(subject.as_bytes());
    }
    push_len(out, content.body.len())?;
    out.extend_from_slice(content.body.as_bytes());
    if let Some(metadata) = metadata {
        out.extend_from_slice(metadata);
    }
    Ok(())
}

/// Reads a length-prefixed UTF-8 string off the front of `input`.
fn take_text(input: &mut &[u8]) -> Result<String, SealError> {
    let (len, rest) = input
        .split_first_chunk::<4>()
        .ok_or(SealError::CannotOpen)?;
    let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| SealError::CannotOpen)?;
    if rest.len() < len {
        return Err(SealError::CannotOpen);
    }
    let (text, rest) = rest.split_at(len);
    *input = rest;
    String::from_utf8(text.to_vec()).map_err(|_| SealError::CannotOpen)
}

fn decode(plaintext: &[u8]) -> Result<MessageContent, SealError> {
    let (&flags, mut rest) = plaintext.split_first().ok_or(SealError::CannotOpen)?;
    if flags & !(HAS_SUBJECT | HAS_METADATA) != 0 {
        return Err(SealError::CannotOpen);
    }
    let subject = if flags & HAS_SUBJECT != 0 {
        Some(take_text(&mut rest)?)
    } else {
        None
    };
    let body = take_text(&mut rest)?;
    let metadata = if flags & HAS_METADATA != 0 {
        Some(serde_json::from_slice(rest).map_err(|_| SealError::CannotOpen)?)
    } else if rest.is_empty() {
        None
    } else {
        return Err(SealError::CannotOpen);
    };
    Ok(MessageContent {
        subject,
        body,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(byte: u8) -> MasterKey {
        MasterKey::from_bytes(&[byte; KEY_LEN]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn binding() -> MessageBinding {
        MessageBinding {
            workspace: WorkspaceId::generate(),
            campaign: CampaignId::generate(),
            message: MessageId::generate(),
        }
    }

    fn content() -> MessageContent {
        MessageContent {
            subject: Some("Hello Ada".into()),
            body: "Your engine is ready. ✓".into(),
            metadata: Some(serde_json::json!({"template": "welcome", "n": 3})),
        }
    }

    #[test]
    fn messages_round_trip_in_every_shape() -> Result<(), SealError> {
        let key = DataKey::generate()?;
        let binding = binding();
        for content in [
            content(),
            MessageContent {
                subject: None,
                body: String::new(),
                metadata: None,
            },
            MessageContent {
                subject: Some(String::new()),
                body: "b".into(),
                metadata: Some(serde_json::json!({})),
            },
        ] {
            let sealed = key.seal(&binding, &content)?;
            assert_eq!(key.open(&binding, &sealed)?, content);
        }
        Ok(())
    }

    #[test]
    fn no_plaintext_shows_in_the_sealed_bytes() -> Result<(), SealError> {
        let sealed = DataKey::generate()?.seal(&binding(), &content())?;
        let haystack = String::from_utf8_lossy(&sealed);
        for needle in ["Hello", "engine", "welcome", "template"] {
            assert!(!haystack.contains(needle), "{needle}");
        }
        Ok(())
    }

    #[test]
    fn a_message_opens_only_where_it_was_sealed() -> Result<(), SealError> {
        let key = DataKey::generate()?;
        let original = binding();
        let sealed = key.seal(&original, &content())?;
        for moved in [
            MessageBinding {
                workspace: WorkspaceId::generate(),
                ..original
            },
            MessageBinding {
                campaign: CampaignId::generate(),
                ..original
            },
            MessageBinding {
                message: MessageId::generate(),
                ..original
            },
        ] {
            assert_eq!(key.open(&moved, &sealed), Err(SealError::CannotOpen));
        }
        assert_eq!(
            DataKey::generate()?.open(&original, &sealed),
            Err(SealError::CannotOpen)
        );
        for i in [0, 5, sealed.len() / 2, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            if let Some(byte) = tampered.get_mut(i) {
                *byte ^= 0x40;
            }
            assert_eq!(key.open(&original, &tampered), Err(SealError::CannotOpen));
        }
        assert_eq!(key.open(&original, &[]), Err(SealError::CannotOpen));
        assert_eq!(
            key.open(&original, &sealed[..20]),
            Err(SealError::CannotOpen)
        );
        Ok(())
    }

    #[test]
    fn the_same_content_seals_differently_each_time() -> Result<(), SealError> {
        let key = DataKey::generate()?;
        let binding = binding();
        assert_ne!(
            key.seal(&binding, &content())?,
            key.seal(&binding, &content())?
        );
        Ok(())
    }

    #[test]
    fn data_keys_unwrap_only_for_their_workspace_and_master_key() -> Result<(), SealError> {
        let (account, workspace) = (AccountId::generate(), WorkspaceId::generate());
        let data_key = DataKey::generate()?;
        let wrapped = master(1).wrap(account, workspace, &data_key)?;
        let opened = master(1).unwrap(account, workspace, &wrapped)?;
        let binding = binding();
        let sealed = data_key.seal(&binding, &content())?;
        assert_eq!(opened.open(&binding, &sealed)?, content());

        let elsewhere = master(1).unwrap(account, WorkspaceId::generate(), &wrapped);
        assert_eq!(elsewhere.err(), Some(SealError::CannotOpen));
        let other_account = master(1).unwrap(AccountId::generate(), workspace, &wrapped);
        assert_eq!(other_account.err(), Some(SealError::CannotOpen));
        let other_master = master(2).unwrap(account, workspace, &wrapped);
        assert_eq!(other_master.err(), Some(SealError::CannotOpen));
        Ok(())
    }

    #[test]
    fn key_ids_are_stable_and_distinct() {
        assert_eq!(master(1).id(), master(1).id());
        assert_ne!(master(1).id(), master(2).id());
        assert_eq!(master(1).id().len(), 16);
    }

    #[test]
    fn the_ring_finds_every_key_and_wraps_with_the_first() -> Result<(), SealError> {
        let ring = MasterKeyRing::new(vec![master(2), master(1), master(2)])?;
        assert_eq!(ring.ids(), vec![master(2).id, master(1).id]);
        assert_eq!(ring.active().id(), master(2).id());
        assert!(ring.get(master(1).id()).is_some());
        assert!(ring.get(master(3).id()).is_none());
        assert!(MasterKeyRing::new(Vec::new()).is_err());
        Ok(())
    }
}
