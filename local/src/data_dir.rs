//! The data folder: the SQLite database, the development-token key, the customer-link key, the key the A1
//! passwords are sealed with, and the lock that keeps a second instance out. Private to its owner: the folders
//! 0700 and the files 0600, made so again at every start.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

const DB_FILE: &str = "osflow.db";
const KEY_FILE: &str = "token.key";
const PORTAL_KEY_FILE: &str = "portal.key";
const SECRETS_KEY_FILE: &str = "secrets.key";
const BLOBS_DIR: &str = "blobs";
const MAILBOX_DIR: &str = "mailbox";
/// The development users registered, one JSON line each (`osflow_lambda_kit::DevelopmentUsers`).
const USERS_FILE: &str = "users.jsonl";
const LOCK_FILE: &str = "osflow.lock";
const KEY_LEN: usize = 64;

/// The data folder (created on first use, readable by its owner only).
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

/// Why the data folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("another osflow-local{pid} is already using the data folder {dir}; stop it or choose another with --data")]
    Busy { dir: String, pid: String },
    #[error("cannot use the data folder {dir}: {source}")]
    Io { dir: String, source: io::Error },
}

/// The exclusive lock on the data folder, released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

impl DataDir {
    /// Opens (creating if needed) the folder, and makes it private to its owner (0700) if it was not.
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        let dir = DataDir { path: path.to_path_buf() };
        fs::DirBuilder::new().recursive(true).mode(0o700).create(path).map_err(|e| dir.io(e))?;
        dir.restrict(path, 0o700)?;
        Ok(dir)
    }

    /// Makes everything in the folder private to its owner: folders 0700, files 0600 (what an older version, a
    /// copy or a permissive umask left readable by others). Run at every start, after the database is open (so
    /// that its WAL files exist).
    pub fn make_private(&self) -> Result<(), DataDirError> {
        self.restrict(&self.path, 0o700)?;
        let mut folders = vec![self.path.clone()];
        while let Some(folder) = folders.pop() {
            for entry in fs::read_dir(&folder).map_err(|e| self.io(e))? {
                let entry = entry.map_err(|e| self.io(e))?;
                let kind = entry.file_type().map_err(|e| self.io(e))?;
                if kind.is_dir() {
                    self.restrict(&entry.path(), 0o700)?;
                    folders.push(entry.path());
                } else if kind.is_file() {
                    self.restrict(&entry.path(), 0o600)?;
                }
            }
        }
        Ok(())
    }

    /// Sets `mode` on `path` when it differs.
    fn restrict(&self, path: &Path, mode: u32) -> Result<(), DataDirError> {
        let current = fs::metadata(path).map_err(|e| self.io(e))?.permissions().mode() & 0o7777;
        if current != mode {
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn db_path(&self) -> PathBuf {
        self.path.join(DB_FILE)
    }

    /// Attachments uploaded through presigned URLs.
    pub fn blobs_path(&self) -> PathBuf {
        self.path.join(BLOBS_DIR)
    }

    /// The customers' e-mails, one `.eml` file per message (what SES sends in AWS).
    pub fn mailbox_path(&self) -> PathBuf {
        self.path.join(MAILBOX_DIR)
    }

    /// The development users registered (`token --user`, the demo's technicians): one JSON line each.
    pub fn users_path(&self) -> PathBuf {
        self.path.join(USERS_FILE)
    }

    fn io(&self, source: io::Error) -> DataDirError {
        DataDirError::Io { dir: self.path.display().to_string(), source }
    }

    /// Takes the folder's exclusive lock, or says which process holds it.
    pub fn lock(&self) -> Result<DataLock, DataDirError> {
        let lock_path = self.path.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| self.io(e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let pid = if holder.is_empty() { String::new() } else { format!(" (pid {holder})") };
                return Err(DataDirError::Busy { dir: self.path.display().to_string(), pid });
            }
            Err(TryLockError::Error(e)) => return Err(self.io(e)),
        }
        // Record who holds it, for the message of the next one that tries.
        file.set_len(0).map_err(|e| self.io(e))?;
        file.write_all(std::process::id().to_string().as_bytes()).map_err(|e| self.io(e))?;
        Ok(DataLock { _file: file })
    }

    /// The development-token key: read it, or create it once (random, mode 0600). Creation is atomic (a complete
    /// temporary file hard-linked into place), so a server and a concurrent `token` command agree on one key.
    pub fn token_key(&self) -> Result<Vec<u8>, DataDirError> {
        self.key(KEY_FILE)
    }

    /// The key of the customer's links (`portal.key`), made once like the token key.
    pub fn portal_key(&self) -> Result<Vec<u8>, DataDirError> {
        self.key(PORTAL_KEY_FILE)
    }

    /// The key the A1 certificates' passwords are sealed with in the database (`secrets.key`), made once like the
    /// token key.
    pub fn secrets_key(&self) -> Result<Vec<u8>, DataDirError> {
        self.key(SECRETS_KEY_FILE)
    }

    fn key(&self, file: &str) -> Result<Vec<u8>, DataDirError> {
        let key_path = self.path.join(file);
        if let Some(key) = self.read_key(&key_path)? {
            return Ok(key);
        }
        let tmp = self.path.join(format!(".{file}.{}.tmp", std::process::id()));
        let mut key = vec![0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| self.io(e))?;
            f.write_all(&key).map_err(|e| self.io(e))?;
            f.sync_all().map_err(|e| self.io(e))?;
        }
        let linked = fs::hard_link(&tmp, &key_path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.read_key(&key_path)?.ok_or_else(|| self.io(io::Error::other(format!("{file} vanished"))))
            }
            Err(e) => Err(self.io(e)),
        }
    }

    fn read_key(&self, key_path: &Path) -> Result<Option<Vec<u8>>, DataDirError> {
        match fs::read(key_path) {
            Ok(key) if key.len() == KEY_LEN => {
                let mode = fs::metadata(key_path).map_err(|e| self.io(e))?.permissions().mode();
                if mode & 0o077 != 0 {
                    fs::set_permissions(key_path, fs::Permissions::from_mode(0o600)).map_err(|e| self.io(e))?;
                }
                Ok(Some(key))
            }
            Ok(other) => Err(self.io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} has {} bytes instead of {KEY_LEN}; delete it to make a new key",
                    key_path.display(),
                    other.len()
                ),
            ))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(e)),
        }
    }
}
