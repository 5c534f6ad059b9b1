//! Credential encryption at rest: AES-256-GCM, envelope style.
//!
//! A master key (config, key file, or generated key file) wraps one data key per organization;
//! the data key encrypts that organization's credentials. Every ciphertext starts with the id
//! of the key that sealed it (`CV1 | len | key id | nonce | ciphertext+tag`), so keys can rotate.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use anyhow::{bail, Context};
use base64::Engine;
use connector_core::{ConnectorError, Secret};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::store::{DataKeyRow, Store};

const MAGIC: &[u8; 3] = b"CV1";
const NONCE_LEN: usize = 12;

/// The master key and its id (`mk-` + 16 hex digits of its SHA-256).
///
/// A loaded master key also carries the previous keys listed after it (key rotation: the key
/// file or `CONNECTORS_MASTER_KEY` lists the current key first, then older ones, which are
/// accepted for unwrapping only) and the file it came from (re-read when a data key names a
/// master key this process does not know yet, e.g. after `connectors keys rotate`).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
    previous: Vec<MasterKey>,
    source: Option<std::path::PathBuf>,
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<MasterKey> {
        if bytes.len() != 32 {
            bail!("the master key must be 32 bytes (base64 or hex encoded)");
        }
        let id = format!("mk-{}", &hex::encode(Sha256::digest(bytes))[..16]);
        Ok(MasterKey {
            id,
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
            previous: Vec::new(),
            source: None,
        })
    }

    /// Parses a key list: keys (base64 or hex) separated by commas, whitespace or lines; the
    /// first is the current key, the others are previous keys (accepted for unwrapping only).
    pub fn parse(text: &str) -> anyhow::Result<MasterKey> {
        let mut keys = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .map(MasterKey::parse_one);
        let mut current = keys.next().context("no master key given")??;
        for key in keys {
            let key = key?;
            if key.id != current.id && !current.previous.iter().any(|k| k.id == key.id) {
                current.previous.push(key);
            }
        }
        Ok(current)
    }

    /// Parses one key: base64 (standard or url-safe) or hex text.
    fn parse_one(text: &str) -> anyhow::Result<MasterKey> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .filter(|b| b.len() == 32)
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .or_else(|| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(text)
                    .ok()
            })
            .context("the master key is neither hex nor base64")?;
        MasterKey::from_bytes(&bytes)
    }

    /// From `master_key`, else `master_key_file`, else `<data_dir>/master.key` (generated with
    /// mode 0600 on first start, with a warning to back it up).
    pub fn load(config: &Config) -> anyhow::Result<MasterKey> {
        if let Some(key) = &config.master_key {
            return MasterKey::parse(key.expose()).context("CONNECTORS_MASTER_KEY");
        }
        let path = MasterKey::key_file(config).expect("no configured key");
        if config.master_key_file.is_some() || path.exists() {
            return MasterKey::read_file(&path);
        }
        let mut key = generate_key_file(&path)?;
        key.source = Some(path);
        Ok(key)
    }

    /// The key file in use (`None` when the key comes from `master_key`).
    pub fn key_file(config: &Config) -> Option<std::path::PathBuf> {
        if config.master_key.is_some() {
            return None;
        }
        Some(
            config
                .master_key_file
                .clone()
                .unwrap_or_else(|| config.data_dir.join("master.key")),
        )
    }

    /// Reads a key file (current key first, then previous keys, one a line).
    pub fn read_file(path: &Path) -> anyhow::Result<MasterKey> {
        tighten(path);
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading master key file {}", path.display()))?;
        let mut key = MasterKey::parse(&text)
            .with_context(|| format!("master key file {}", path.display()))?;
        key.source = Some(path.to_path_buf());
        Ok(key)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Ids of the current key and the previous keys, current first.
    pub fn ids(&self) -> Vec<String> {
        std::iter::once(self.id.clone())
            .chain(self.previous.iter().map(|k| k.id.clone()))
            .collect()
    }

    /// The key (current or previous) with this id.
    fn find(&self, id: &str) -> Option<&Aes256Gcm> {
        if self.id == id {
            return Some(&self.cipher);
        }
        self.previous.iter().find(|k| k.id == id).map(|k| &k.cipher)
    }

    /// Generates a new master key (base64 text, not yet stored anywhere).
    pub fn generate() -> String {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

fn generate_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = MasterKey::generate();
    write_private(path, text.as_bytes())?;
    let key = MasterKey::parse(&text)?;
    tracing::warn!(
        path = %path.display(),
        key_id = key.id(),
        "generated a new master key file: back it up, without it the stored credentials cannot be decrypted"
    );
    Ok(key)
}

/// Takes group and other permissions away from a key file (a warning when that is refused,
/// e.g. on a read-only mount of secrets).
fn tighten(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            if let Err(e) =
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))
            {
                tracing::warn!(path = %path.display(), error = %e, "the master key file is readable by others and could not be made private");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Creates a file readable only by its owner.
pub fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}

/// Encrypts and decrypts credentials for organizations (cheap to clone; caches unwrapped data
/// keys, which is safe to lose).
#[derive(Clone)]
pub struct Vault {
    master: Arc<std::sync::RwLock<MasterKey>>,
    store: Store,
    keys: Arc<Mutex<HashMap<String, Aes256Gcm>>>,
    active: Arc<Mutex<HashMap<String, String>>>,
}

fn seal(cipher: &Aes256Gcm, key_id: &str, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption does not fail for in-memory buffers");
    let mut out = Vec::with_capacity(4 + key_id.len() + NONCE_LEN + ct.len());
    out.extend_from_slice(MAGIC);
    out.push(key_id.len() as u8);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// The key id a ciphertext names.
pub fn key_id_of(blob: &[u8]) -> Option<&str> {
    let rest = blob.strip_prefix(MAGIC)?;
    let (&len, rest) = rest.split_first()?;
    std::str::from_utf8(rest.get(..len as usize)?).ok()
}

fn open(cipher: &Aes256Gcm, blob: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    let key_id = key_id_of(blob)?;
    let body = &blob[MAGIC.len() + 1 + key_id.len()..];
    if body.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ct) = body.split_at(NONCE_LEN);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
}

fn vault_error(message: &str) -> ConnectorError {
    tracing::error!(problem = message, "vault failure");
    ConnectorError::internal("stored credentials could not be read; contact the administrator")
}

impl Vault {
    pub fn new(master: MasterKey, store: Store) -> Vault {
        Vault {
            master: Arc::new(std::sync::RwLock::new(master)),
            store,
            keys: Default::default(),
            active: Default::default(),
        }
    }

    /// The id of the master key that wraps new and re-wrapped data keys.
    pub fn master_key_id(&self) -> String {
        self.current().id
    }

    fn current(&self) -> MasterKey {
        self.master.read().expect("lock").clone()
    }

    /// Re-reads the key file (if the key came from one) so a key added by `keys rotate` in
    /// another process is known here; keeps the loaded keys when the file cannot be read.
    fn reload(&self) {
        let Some(path) = self.current().source else {
            return;
        };
        match MasterKey::read_file(&path) {
            Ok(key) => {
                if key.id != self.current().id {
                    tracing::info!(
                        key_id = key.id(),
                        "master key file changed; using its first key"
                    );
                }
                *self.master.write().expect("lock") = key;
            }
            Err(e) => tracing::warn!(error = %e, "re-reading the master key file failed"),
        }
    }

    fn data_key_aad(org: &str, key_id: &str) -> Vec<u8> {
        format!("data-key:{org}:{key_id}").into_bytes()
    }

    /// The organization's active data key, created on first use.
    async fn active_key(&self, org: &str) -> Result<(String, Aes256Gcm), ConnectorError> {
        let cached = self.active.lock().expect("lock").get(org).cloned();
        if let Some(id) = cached {
            if let Some(c) = self.keys.lock().expect("lock").get(&id) {
                return Ok((id, c.clone()));
            }
        }
        let row = match self.store.active_data_key(org).await.map_err(db)? {
            Some(row) => row,
            None => {
                // New data keys go under the newest master key, even if another process
                // rotated it since this one started.
                self.reload();
                let master = self.current();
                let mut dk = [0u8; 32];
                OsRng.fill_bytes(&mut dk);
                let id = format!("dk-{}", uuid::Uuid::new_v4());
                let wrapped = seal(
                    &master.cipher,
                    master.id(),
                    &dk,
                    &Self::data_key_aad(org, &id),
                );
                self.store
                    .insert_data_key(&DataKeyRow {
                        id,
                        organization_id: org.to_string(),
                        master_key_id: master.id().to_string(),
                        wrapped,
                    })
                    .await
                    .map_err(db)?
            }
        };
        let cipher = self.unwrap_row(&row).map_err(|e| *e)?;
        self.active
            .lock()
            .expect("lock")
            .insert(org.to_string(), row.id.clone());
        Ok((row.id, cipher))
    }

    /// The data key's bytes, unwrapped by whichever known master key wrapped it (re-reading
    /// the key file once when that key is unknown).
    fn unwrap_bytes(&self, row: &DataKeyRow) -> Result<Vec<u8>, Box<ConnectorError>> {
        let master_id = key_id_of(&row.wrapped)
            .ok_or_else(|| Box::new(vault_error("wrapped data key has no key id")))?;
        let mut master = self.current();
        if master.find(master_id).is_none() {
            self.reload();
            master = self.current();
        }
        let cipher = master
            .find(master_id)
            .ok_or_else(|| Box::new(vault_error("data key is wrapped by an unknown master key")))?;
        open(
            cipher,
            &row.wrapped,
            &Self::data_key_aad(&row.organization_id, &row.id),
        )
        .ok_or_else(|| Box::new(vault_error("data key does not unwrap with the master key")))
    }

    fn unwrap_row(&self, row: &DataKeyRow) -> Result<Aes256Gcm, Box<ConnectorError>> {
        let dk = self.unwrap_bytes(row)?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&dk));
        self.keys
            .lock()
            .expect("lock")
            .insert(row.id.clone(), cipher.clone());
        Ok(cipher)
    }

    async fn key_by_id(&self, org: &str, key_id: &str) -> Result<Aes256Gcm, ConnectorError> {
        if let Some(c) = self.keys.lock().expect("lock").get(key_id) {
            return Ok(c.clone());
        }
        let row = self
            .store
            .data_key(key_id)
            .await
            .map_err(db)?
            .filter(|r| r.organization_id == org)
            .ok_or_else(|| vault_error("ciphertext names an unknown data key"))?;
        self.unwrap_row(&row).map_err(|e| *e)
    }

    /// Encrypts for the organization; returns the ciphertext and the data key id it names.
    pub async fn encrypt(
        &self,
        org: &str,
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, String), ConnectorError> {
        let (id, cipher) = self.active_key(org).await?;
        Ok((seal(&cipher, &id, plaintext, org.as_bytes()), id))
    }

    pub async fn decrypt(&self, org: &str, blob: &[u8]) -> Result<Vec<u8>, ConnectorError> {
        let key_id = key_id_of(blob).ok_or_else(|| vault_error("ciphertext has no key id"))?;
        let cipher = self.key_by_id(org, key_id).await?;
        open(&cipher, blob, org.as_bytes())
            .ok_or_else(|| vault_error("ciphertext does not decrypt"))
    }

    /// Encrypts a secret string (convenience).
    pub async fn encrypt_secret(
        &self,
        org: &str,
        s: &Secret,
    ) -> Result<(Vec<u8>, String), ConnectorError> {
        self.encrypt(org, s.expose().as_bytes()).await
    }
}

impl Vault {
    /// Re-wraps every data key not yet wrapped by the current master key under it (the data
    /// keys themselves, and so every ciphertext, stay the same). Safe while servers run: each
    /// update is a compare-and-set on the previous wrapping, and the list is re-read until
    /// nothing is left, so data keys created meanwhile by servers that still used the old key
    /// are caught too. Returns how many keys were re-wrapped.
    pub async fn rewrap_all(&self) -> anyhow::Result<usize> {
        let master = self.current();
        let mut count = 0;
        for _ in 0..100 {
            let rows = self.store.data_keys_not_wrapped_by(master.id()).await?;
            if rows.is_empty() {
                return Ok(count);
            }
            for row in rows {
                let dk = self.unwrap_bytes(&row).map_err(|e| {
                    anyhow::anyhow!(
                        "data key {} of organization {}: {}",
                        row.id,
                        row.organization_id,
                        e.message
                    )
                })?;
                let wrapped = seal(
                    &master.cipher,
                    master.id(),
                    &dk,
                    &Self::data_key_aad(&row.organization_id, &row.id),
                );
                if self
                    .store
                    .rewrap_data_key(&row.id, &row.wrapped, master.id(), &wrapped)
                    .await?
                {
                    count += 1;
                }
            }
        }
        anyhow::bail!("data keys kept appearing under an old master key; run the rotation again")
    }
}

fn db(e: sqlx::Error) -> ConnectorError {
    ConnectorError::internal("the database failed; try again").with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stored_credentials_keep_their_secrets_through_the_vault_and_nowhere_else() {
        use crate::credentials::StoredCredentials;
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::for_data_dir(dir.path());
        let store = Store::open(&cfg.database_url).await.unwrap();
        let org = store.create_org("a").await.unwrap();
        let vault = Vault::new(MasterKey::load(&cfg).unwrap(), store);
        let mut creds = StoredCredentials::default();
        creds
            .fields
            .insert("refresh_token".into(), Secret::new("1//stored-refresh"));
        creds.expires_at = Some(42);
        // Serialized anywhere else, the secret is redacted.
        let elsewhere = serde_json::to_string(&creds.fields).unwrap();
        assert!(!elsewhere.contains("1//stored-refresh"), "{elsewhere}");
        let (blob, _) = vault.encrypt(&org.id, &creds.to_json()).await.unwrap();
        let back =
            StoredCredentials::from_json(&vault.decrypt(&org.id, &blob).await.unwrap()).unwrap();
        assert_eq!(
            back.get("refresh_token").map(Secret::expose),
            Some("1//stored-refresh")
        );
        assert_eq!(back.expires_at, Some(42));
    }

    #[tokio::test]
    async fn round_trip_names_keys_and_binds_the_organization() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::for_data_dir(dir.path());
        let store = Store::open(&cfg.database_url).await.unwrap();
        let org = store.create_org("a").await.unwrap();
        let other = store.create_org("b").await.unwrap();
        let master = MasterKey::load(&cfg).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let vault = Vault::new(master, store.clone());
        let (blob, key_id) = vault.encrypt(&org.id, b"hello secret").await.unwrap();
        assert_eq!(key_id_of(&blob), Some(key_id.as_str()));
        assert!(!blob.windows(12).any(|w| w == b"hello secret"));
        assert_eq!(
            vault.decrypt(&org.id, &blob).await.unwrap(),
            b"hello secret"
        );
        // Another organization cannot open it, even with the key id in hand.
        assert!(vault.decrypt(&other.id, &blob).await.is_err());
        // A fresh vault (empty cache) with the same key file reads it; a different master cannot.
        let again = Vault::new(MasterKey::load(&cfg).unwrap(), store.clone());
        assert_eq!(
            again.decrypt(&org.id, &blob).await.unwrap(),
            b"hello secret"
        );
        let wrong = Vault::new(MasterKey::from_bytes(&[7u8; 32]).unwrap(), store);
        assert!(wrong.decrypt(&org.id, &blob).await.is_err());
        // One data key per organization.
        let (_, key2) = vault.encrypt(&org.id, b"x").await.unwrap();
        assert_eq!(key_id, key2);
    }

    #[test]
    fn a_configured_master_key_wins_and_no_key_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::for_data_dir(dir.path());
        cfg.master_key = Some(Secret::new(hex::encode([9u8; 32])));
        let key = MasterKey::load(&cfg).unwrap();
        assert_eq!(key.id(), MasterKey::from_bytes(&[9u8; 32]).unwrap().id());
        assert!(!dir.path().join("master.key").exists());
        let file = dir.path().join("mk");
        std::fs::write(
            &file,
            base64::engine::general_purpose::STANDARD.encode([5u8; 32]),
        )
        .unwrap();
        cfg.master_key = None;
        cfg.master_key_file = Some(file);
        assert_eq!(
            MasterKey::load(&cfg).unwrap().id(),
            MasterKey::from_bytes(&[5u8; 32]).unwrap().id()
        );
    }

    #[test]
    fn a_key_list_names_the_current_key_first_and_keeps_previous_ones() {
        let (new, old) = (hex::encode([2u8; 32]), hex::encode([3u8; 32]));
        let id = |b: u8| MasterKey::from_bytes(&[b; 32]).unwrap().id().to_string();
        for text in [format!("{new},{old}"), format!("{new}\n{old}\n{new}\n")] {
            let key = MasterKey::parse(&text).unwrap();
            assert_eq!(key.ids(), vec![id(2), id(3)]);
            assert!(key.find(&id(3)).is_some());
            assert!(key.find(&id(4)).is_none());
        }
        assert!(MasterKey::parse(&format!("{new},short")).is_err());
        assert!(MasterKey::parse(" ").is_err());
    }

    #[test]
    fn master_key_parses_hex_and_base64() {
        let hexed = hex::encode([1u8; 32]);
        let b64 = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        assert_eq!(
            MasterKey::parse(&hexed).unwrap().id(),
            MasterKey::parse(&b64).unwrap().id()
        );
        assert!(MasterKey::parse("short").is_err());
    }
}
