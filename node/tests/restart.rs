//! Start-up on a data directory that holds history, in process with real proofs on the
//! embedded L1: batches the L1 verified replay from their public data, the others are
//! executed again for their witnesses, the replay must end at the L1's verified root, and a
//! tampered history is refused; any number of unproven batches is proven after a restart,
//! and a database that lost acknowledged writes (its write-ahead log, its MANIFEST) is
//! refused with a pointer to `ferry restore`.

use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::AccountId;
use ferry_node::node::StartError;
use ferry_node::storage::{BatchStatus, Store, Writes, ACCOUNTS, BATCHES, L1, TXS};
use std::path::Path;
use std::time::Duration;

#[path = "common/chain.rs"]
mod chain;
use chain::{wait_until, Chain};

/// Opens the stopped node's store, lets `f` read it and queue writes, and commits them.
fn edit<R>(db: &Path, f: impl FnOnce(&Store, &mut Writes<'_>) -> R) -> R {
    let store = Store::open(db).unwrap();
    let mut w = store.batch();
    let out = f(&store, &mut w);
    w.commit().unwrap();
    out
}

fn refusal(r: Result<ferry_node::node::Started, StartError>) -> String {
    match r {
        Ok(_) => panic!("a tampered history started"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_batches_replay_from_public_data_and_the_rest_execute_again() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new(dir.path());
    // two transfers proven and verified, then two more sealed with proving off
    for (prove, nonce) in [(true, 0), (false, 1)] {
        let txs = |d| vec![chain.transfer(d, 1, nonce), chain.transfer(d, 2, nonce)];
        chain.run(dir.path(), prove, txs).await;
    }

    let db = dir.path().join("db");
    let (verified, unproven) = {
        let store = Store::open(&db).unwrap();
        let batches = store.all(BATCHES).unwrap();
        let (v, u): (Vec<_>, Vec<_>) = batches
            .into_iter()
            .map(|(_, b)| b)
            .partition(|b| b.status == BatchStatus::Verified);
        assert!(!v.is_empty() && !u.is_empty(), "{v:?} / {u:?}");
        assert!(v.iter().all(|b| b.number < u[0].number));
        (v[0].clone(), u[0].clone())
    };

    // a verified batch's public data is what its replay reads: changing it is refused
    let mut forged = verified.clone();
    let mut bytes = hex::decode(&forged.pubdata).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    forged.pubdata = hex::encode(bytes);
    edit(&db, |_, w| w.put(BATCHES, &verified.number, &forged));
    let why = refusal(chain.start(dir.path(), false).await);
    assert!(why.contains(&format!("batch {}", verified.number)), "{why}");

    // an unproven batch is executed again from its transactions: one missing is refused
    let gone = unproven.txs[0];
    let record = edit(&db, |store, w| {
        w.put(BATCHES, &verified.number, &verified);
        w.delete(TXS, &gone);
        store.get(TXS, &gone).unwrap().unwrap()
    });
    let why = refusal(chain.start(dir.path(), false).await);
    assert!(why.contains(&format!("tx {gone} missing")), "{why}");

    // the replay must end where the L1's verified root is
    let mirror = edit(&db, |store, w| {
        let mirror = store.get(L1, &"mirror").unwrap().unwrap();
        let mut moved = mirror.clone();
        moved.state_root[31] ^= 1;
        w.put(TXS, &gone, &record);
        w.put(L1, &"mirror", &moved);
        mirror
    });
    let why = refusal(chain.start(dir.path(), false).await);
    let last_verified = unproven.number - 1;
    assert!(
        why.contains(&format!("batch {last_verified} ends at")),
        "{why}"
    );

    // with the history whole again the node starts, at the balances the transfers left
    edit(&db, |_, w| w.put(L1, &"mirror", &mirror));
    let (handle, join) = chain.start(dir.path(), false).await.unwrap();
    let balance = |id: u32| {
        handle
            .store
            .get(ACCOUNTS, &AccountId(id))
            .unwrap()
            .unwrap()
            .balance
    };
    assert_eq!(balance(0), 1_000 + 4 * 5 + 4);
    assert_eq!((balance(1), balance(2)), (1_000 - 12, 1_000 - 12));
    drop(handle);
    join.await.unwrap();
}

/// Every stored batch's status.
fn statuses(db: &Path) -> Vec<BatchStatus> {
    let store = Store::open(db).unwrap();
    let batches = store.all(BATCHES).unwrap();
    batches.into_iter().map(|(_, b)| b.status).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_thirty_unproven_batches_proves_and_verifies_every_one() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new(dir.path());
    // sixty transfers sealed two per batch with proving off: thirty batches no L1 has seen
    let txs = |d| {
        (0..30)
            .flat_map(|n| [chain.transfer(d, 1, n), chain.transfer(d, 2, n)])
            .collect()
    };
    chain.run(dir.path(), false, txs).await;
    let db = dir.path().join("db");
    let sealed = statuses(&db).len() as u64;
    assert!(sealed >= 30, "{sealed} batches");

    // more unproven batches than the proving channels hold (4 + 5): start-up must not block
    let (handle, join) = chain.start(dir.path(), true).await.unwrap();
    let mut l1 = handle.l1.clone();
    tokio::time::timeout(
        Duration::from_secs(600),
        l1.wait_for(|v| v.batch_count == sealed),
    )
    .await
    .expect("every batch verified in time")
    .unwrap();
    // and the node takes new transactions meanwhile and after
    let hash = tokio::time::timeout(
        Duration::from_secs(30),
        handle.submit(chain.transfer(handle.domain, 1, 30)),
    )
    .await
    .expect("the sequencer answers")
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(300),
        l1.wait_for(|v| v.batch_count == sealed + 1),
    )
    .await
    .expect("the new transaction's batch is verified")
    .unwrap();
    let receipt = handle.store.get(TXS, &hash).unwrap().unwrap();
    assert!(
        matches!(receipt.status, ferry_node::tx::TxStatus::Verified { .. }),
        "{receipt:?}"
    );
    drop(handle);
    join.await.unwrap();
    let all = statuses(&db);
    assert!(all.iter().all(|s| *s == BatchStatus::Verified), "{all:?}");
}

/// A forced withdrawal sealed while proving was off: the restart executes its batch again
/// (the queue entry dispatched as a forced withdrawal, not a deposit), proves and verifies
/// it, and the owner is paid on L1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_withdrawal_sealed_before_a_restart_is_proven_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new(dir.path());
    let owner = chain.genesis[2].1.owner;
    let balance = |store: &Store| store.get(ACCOUNTS, &AccountId(2)).unwrap().unwrap().balance;
    let (handle, join) = chain.start(dir.path(), false).await.unwrap();
    handle
        .deposit(Deposit::forced_withdrawal(AccountId(2), owner))
        .await
        .unwrap();
    let store = handle.store.clone();
    wait_until(60, "the forced withdrawal sealed", || balance(&store) == 0).await;
    drop((handle, store));
    join.await.unwrap();
    let db = dir.path().join("db");
    assert_eq!(statuses(&db), vec![BatchStatus::Sealed]);

    let (handle, join) = chain.start(dir.path(), true).await.unwrap();
    let mut l1 = handle.l1.clone();
    tokio::time::timeout(
        Duration::from_secs(300),
        l1.wait_for(|v| v.batch_count == 1),
    )
    .await
    .expect("the batch verified")
    .unwrap();
    assert_eq!(balance(&handle.store), 0);
    assert_eq!(handle.claim(owner).await.unwrap(), 1_000 * 1_000_000_000);
    drop(handle);
    join.await.unwrap();
}

/// Transfers to keys with no account, sealed while proving was off: the sequencer opens one
/// key-only account per key (two transfers to one key, one opening) in the deposit slot, and
/// the restart opens the same accounts again from the batches' public data, proves and
/// verifies them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_to_new_keys_sealed_before_a_restart_are_proven_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new(dir.path());
    let mut rng = rand::thread_rng();
    let fresh: Vec<_> = (0..2)
        .map(|_| ferry_circuits::eddsa::PrivateKey::random(&mut rng).public_key())
        .collect();
    let (handle, join) = chain.start(dir.path(), false).await.unwrap();
    let domain = handle.domain;
    // users 1 and 2 pay the first key, user 0 the second
    for (from, to) in [(1, 0), (2, 0), (0, 1)] {
        let t = ferry_circuits::ops::transfer::Transfer {
            from: AccountId(from as u32),
            to: AccountId(0),
            amount: ferry_circuits::ops::Amount(5),
            fee: ferry_circuits::ops::Amount(1),
            nonce: ferry_circuits::ops::Nonce(0),
        };
        let tx = t.sign_to_key(domain, &chain.users[from], fresh[to]);
        handle
            .submit(ferry_node::tx::L2Tx::Transfer(tx))
            .await
            .unwrap();
    }
    let m = handle.metrics.clone();
    wait_until(60, "the three transfers sealed", || m.txs_sealed.get() == 3).await;
    // every account of the tree (depth 2: 16 slots) as the store holds it
    let accounts = |store: &Store| -> Vec<(AccountId, ferry_circuits::ops::Account)> {
        (0..16)
            .filter_map(|i| Some((AccountId(i), store.get(ACCOUNTS, &AccountId(i)).unwrap()?)))
            .collect()
    };
    let before = accounts(&handle.store);
    for (key, balance) in [(fresh[0], 10), (fresh[1], 5)] {
        let of_key: Vec<_> = before.iter().filter(|(_, a)| a.pubkey == key).collect();
        assert_eq!(of_key.len(), 1, "one account per key: {before:?}");
        let a = of_key[0].1;
        assert_eq!((a.balance, a.owner), (balance, Default::default()));
    }
    let sealed = m.batches_sealed.get();
    drop(handle);
    join.await.unwrap();
    let db = dir.path().join("db");
    assert!(statuses(&db).iter().all(|s| *s == BatchStatus::Sealed));

    let (handle, join) = chain.start(dir.path(), true).await.unwrap();
    let mut l1 = handle.l1.clone();
    tokio::time::timeout(
        Duration::from_secs(300),
        l1.wait_for(|v| v.batch_count == sealed),
    )
    .await
    .expect("the batches verified")
    .unwrap();
    assert_eq!(accounts(&handle.store), before);
    drop(handle);
    join.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_write_ahead_log_or_manifest_is_refused_with_a_pointer_to_restore() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new(dir.path());
    let txs = |d| vec![chain.transfer(d, 1, 0), chain.transfer(d, 2, 0)];
    chain.run(dir.path(), true, txs).await;
    let db = dir.path().join("db");
    let copy = dir.path().join("copy");
    let files = |suffix: &str| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&db)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(suffix))
            .collect()
    };
    let snapshot = || {
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::create_dir_all(&copy).unwrap();
        for f in std::fs::read_dir(&db).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, copy.join(f.file_name().unwrap())).unwrap();
        }
    };
    let restore_copy = || {
        std::fs::remove_dir_all(&db).unwrap();
        std::fs::create_dir_all(&db).unwrap();
        for f in std::fs::read_dir(&copy).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, db.join(f.file_name().unwrap())).unwrap();
        }
    };
    snapshot();

    // the write-ahead log deleted while stopped: the acknowledged batches went with it
    let logs = files(".log");
    assert!(!logs.is_empty());
    for f in &logs {
        std::fs::remove_file(f).unwrap();
    }
    let why = refusal(chain.start(dir.path(), false).await);
    assert!(why.contains("ferry restore"), "log deleted: {why}");

    // cut short
    restore_copy();
    for f in &logs {
        let len = std::fs::metadata(f).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(f).unwrap();
        file.set_len(len / 2).unwrap();
    }
    let why = match chain.start(dir.path(), false).await {
        Ok(_) => panic!("started on a log cut short"),
        Err(e) => e.to_string(),
    };
    assert!(why.contains("ferry restore"), "log cut short: {why}");

    // a truncated MANIFEST: never a fresh genesis over a chain
    restore_copy();
    for f in files("MANIFEST") {
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        file.set_len(0).unwrap();
    }
    let why = match chain.start(dir.path(), false).await {
        Ok(_) => panic!("started on a truncated MANIFEST"),
        Err(e) => e.to_string(),
    };
    assert!(why.contains("ferry restore"), "MANIFEST: {why}");

    // whole again, it starts where it stopped
    restore_copy();
    let (handle, join) = chain.start(dir.path(), false).await.unwrap();
    assert!(handle.l1.borrow().batch_count >= 1);
    drop(handle);
    join.await.unwrap();
}
