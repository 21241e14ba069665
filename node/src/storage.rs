//! RocksDB storage. Every column family has a name, a key type and a value type, declared
//! once below; a batch is applied with one atomic `WriteBatch`.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `accounts` | account id (u32 BE) | [`Account`] |
//! | `batches` | batch number (u64 BE) | [`StoredBatch`] |
//! | `txs` | transaction hash | [`TxRecord`] |
//! | `mempool` | arrival sequence (u64 BE) | [`L2Tx`] |
//! | `l1` | `"mirror"` | the embedded L1's [`MirrorState`] |
//! | `meta` | name | JSON value (chain head, deposit cursor, ...) |

use crate::tx::{L2Tx, TxHash, TxRecord};
use ferry_circuits::ops::{Account, AccountId};
use ferry_contracts::mirror::MirrorState;
use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, DB};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::marker::PhantomData;
use std::path::Path;

/// A storage failure: the node cannot go on safely.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    /// The database could not be opened (missing, locked, or damaged).
    #[error(
        "cannot open the database at {path}: {source}. If it is damaged, move it aside and \
         rebuild the state from L1 with `ferry restore`"
    )]
    Open {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: rocksdb::Error,
    },
    /// A stored value does not decode.
    #[error("corrupt value in {table}: {source}")]
    Corrupt {
        /// The column family.
        table: &'static str,
        /// Why.
        source: serde_json::Error,
    },
}

/// A key's bytes.
pub trait Key {
    /// Big-endian bytes, so RocksDB's order is the numeric order.
    fn bytes(&self) -> Vec<u8>;
}

impl Key for AccountId {
    fn bytes(&self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }
}

impl Key for u64 {
    fn bytes(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
}

impl Key for TxHash {
    fn bytes(&self) -> Vec<u8> {
        self.0.to_vec()
    }
}

impl Key for ferry_circuits::eddsa::PublicKey {
    fn bytes(&self) -> Vec<u8> {
        let mut out = ferry_circuits::field::fr_to_be32(&self.x).to_vec();
        out.extend_from_slice(&ferry_circuits::field::fr_to_be32(&self.y));
        out
    }
}

impl Key for &str {
    fn bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

/// A typed column family.
#[derive(Debug)]
pub struct Table<K, V> {
    /// Its name.
    pub name: &'static str,
    _types: PhantomData<fn(K) -> V>,
}

impl<K, V> Clone for Table<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for Table<K, V> {}

const fn table<K, V>(name: &'static str) -> Table<K, V> {
    Table {
        name,
        _types: PhantomData,
    }
}

/// Accounts by id.
pub const ACCOUNTS: Table<AccountId, Account> = table("accounts");
/// Batches by number.
pub const BATCHES: Table<u64, StoredBatch> = table("batches");
/// Transactions and their status by hash.
pub const TXS: Table<TxHash, TxRecord> = table("txs");
/// Pending transactions by arrival.
pub const MEMPOOL: Table<u64, L2Tx> = table("mempool");
/// The first account id holding each key (what deposits for that key credit).
pub const ACCOUNT_BY_PUBKEY: Table<ferry_circuits::eddsa::PublicKey, AccountId> =
    table("account_by_pubkey");
/// The embedded L1.
pub const L1: Table<&'static str, MirrorState> = table("l1");
/// Node metadata.
pub const META: Table<&'static str, serde_json::Value> = table("meta");

const ALL: [&str; 7] = [
    "accounts",
    "batches",
    "txs",
    "mempool",
    "l1",
    "meta",
    "account_by_pubkey",
];

/// Where a batch is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Executed and stored; waiting for its proof.
    Sealed,
    /// Proven; waiting for L1.
    Proven,
    /// Accepted by the L1 contract.
    Verified,
}

/// A sealed batch as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBatch {
    /// Its number (0-based).
    pub number: u64,
    /// Root before, hex.
    pub old_root: String,
    /// Root after, hex.
    pub new_root: String,
    /// Public data, hex.
    pub pubdata: String,
    /// The transactions it includes.
    pub txs: Vec<TxHash>,
    /// L1 deposit queue indices it consumed, with the account each went to.
    pub deposits: Vec<(u64, AccountId)>,
    /// Of those, the ones refunded to their depositor on L1 instead of applied (their
    /// account would overflow, or the tree was full); their account id is 0.
    #[serde(default)]
    pub refunds: Vec<u64>,
    /// Status.
    pub status: BatchStatus,
    /// The proof in snarkjs JSON, once proven.
    pub proof: Option<serde_json::Value>,
    /// Unix milliseconds when it was sealed.
    pub sealed_at_ms: u64,
    /// Unix milliseconds when this node stored its proof.
    #[serde(default)]
    pub proven_at_ms: Option<u64>,
    /// Unix milliseconds when this node saw it verified on L1.
    #[serde(default)]
    pub verified_at_ms: Option<u64>,
    /// The L1 block that verified it (when this node submitted it).
    #[serde(default)]
    pub l1_block: Option<u64>,
    /// The gas `submitBatch` used on L1 (anvil; the embedded L1 counts no gas).
    #[serde(default)]
    pub l1_gas: Option<u64>,
}

/// The node's database.
#[derive(Debug)]
pub struct Store {
    db: DB,
}

impl Store {
    /// Opens (or creates) the database under `dir`. The MANIFEST records every write-ahead
    /// log, so a log deleted while the node was stopped (acknowledged writes lost) is refused
    /// at open instead of read as an older chain, and so is a log cut short.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_track_and_verify_wals_in_manifest(true);
        // a log cut short loses writes the MANIFEST cannot vouch for: refuse it too. A kill
        // -9 leaves whole records (each write group reaches the OS in full), so only a log
        // damaged on disk trips this
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::AbsoluteConsistency);
        opts.set_paranoid_checks(true);
        let cfs = ALL.map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(|source| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self { db })
    }

    /// Opens another node's database for reading only, while that node may be running
    /// (what restoring from the embedded L1 reads).
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        let opts = Options::default();
        Ok(Self {
            db: DB::open_cf_for_read_only(&opts, dir, ALL, false)?,
        })
    }

    /// Waits until every write made so far is on disk (one `fdatasync` of the log).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.db.flush_wal(true)?;
        Ok(())
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created at open")
    }

    /// Reads one value.
    pub fn get<K: Key, V: DeserializeOwned>(
        &self,
        t: Table<K, V>,
        k: &K,
    ) -> Result<Option<V>, StoreError> {
        match self.db.get_cf(self.cf(t.name), k.bytes())? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| StoreError::Corrupt {
                        table: t.name,
                        source,
                    })
            }
        }
    }

    /// Every value of a table, in key order.
    pub fn all<K: Key, V: DeserializeOwned>(
        &self,
        t: Table<K, V>,
    ) -> Result<Vec<(Vec<u8>, V)>, StoreError> {
        self.scan(t, rocksdb::IteratorMode::Start, usize::MAX)
    }

    /// The last `n` values of a table, last key first (read from the end, not the whole table).
    pub fn last<K: Key, V: DeserializeOwned>(
        &self,
        t: Table<K, V>,
        n: usize,
    ) -> Result<Vec<(Vec<u8>, V)>, StoreError> {
        self.scan(t, rocksdb::IteratorMode::End, n)
    }

    fn scan<K: Key, V: DeserializeOwned>(
        &self,
        t: Table<K, V>,
        mode: rocksdb::IteratorMode<'_>,
        n: usize,
    ) -> Result<Vec<(Vec<u8>, V)>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(t.name), mode).take(n) {
            let (k, v) = item?;
            let v = serde_json::from_slice(&v).map_err(|source| StoreError::Corrupt {
                table: t.name,
                source,
            })?;
            out.push((k.to_vec(), v));
        }
        Ok(out)
    }

    /// Whether a table holds nothing.
    pub fn is_empty<K, V>(&self, t: Table<K, V>) -> Result<bool, StoreError> {
        let mut it = self
            .db
            .iterator_cf(self.cf(t.name), rocksdb::IteratorMode::Start);
        Ok(it.next().transpose()?.is_none())
    }

    /// Starts an atomic write.
    pub fn batch(&self) -> Writes<'_> {
        Writes {
            store: self,
            wb: WriteBatch::default(),
        }
    }
}

/// Writes applied together or not at all.
pub struct Writes<'a> {
    store: &'a Store,
    wb: WriteBatch,
}

impl std::fmt::Debug for Writes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Writes({} ops)", self.wb.len())
    }
}

impl Writes<'_> {
    /// Puts a value.
    pub fn put<K: Key, V: Serialize>(&mut self, t: Table<K, V>, k: &K, v: &V) {
        let bytes = serde_json::to_vec(v).expect("values serialize");
        self.wb.put_cf(self.store.cf(t.name), k.bytes(), bytes);
    }

    /// Puts the accounts at `touched` (each once) as `state` has them now.
    pub fn put_accounts(&mut self, state: &ferry_circuits::State, mut touched: Vec<AccountId>) {
        touched.sort_unstable();
        touched.dedup();
        for id in &touched {
            if let Some(a) = state.account(*id) {
                self.put(ACCOUNTS, id, a);
            }
        }
    }

    /// Deletes a value.
    pub fn delete<K: Key, V>(&mut self, t: Table<K, V>, k: &K) {
        self.wb.delete_cf(self.store.cf(t.name), k.bytes());
    }

    /// Applies every write atomically (and durably: the WAL is synced).
    pub fn commit(self) -> Result<(), StoreError> {
        self.write(true)
    }

    /// Applies every put and delete at once, handing the log to the OS without waiting for
    /// the disk: a killed process loses nothing, a power cut may lose this write and later
    /// ones. What depends on it being on disk waits for [`Store::sync`].
    pub fn commit_unsynced(self) -> Result<(), StoreError> {
        self.write(false)
    }

    fn write(self, sync: bool) -> Result<(), StoreError> {
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(sync);
        self.store.db.write_opt(self.wb, &opts)?;
        Ok(())
    }
}
