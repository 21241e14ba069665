//! Group sync: the actor writes without waiting for the disk, and what must only happen once
//! a write is durable (answering a submitter, handing a sealed batch to the prover) waits
//! here instead, on a thread of its own. One `fdatasync` covers every write made before it,
//! so however many writes queue up while one sync runs, the next sync settles them all; the
//! actor goes on executing meanwhile.

use crate::storage::Store;
use std::sync::{mpsc, Arc};
use tracing::error;

type Action = Box<dyn FnOnce() + Send>;

/// The sync thread's handle: actions run in the order given, each after a sync that began
/// after it was given.
#[derive(Debug)]
pub(super) struct Durable {
    tx: Option<mpsc::Sender<Action>>,
    thread: Option<std::thread::JoinHandle<()>>,
    store: Arc<Store>,
}

impl Durable {
    /// Starts the thread; it ends once the handle is dropped and the queue is drained.
    pub(super) fn spawn(store: Arc<Store>) -> Self {
        let (tx, rx) = mpsc::channel::<Action>();
        let syncing = store.clone();
        let thread = std::thread::Builder::new()
            .name("ferry-sync".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut due = vec![first];
                    due.extend(rx.try_iter());
                    if let Err(e) = syncing.sync() {
                        // whether the writes reached the disk is unknown (and a retry cannot
                        // tell): stop, and let a restart read what the disk holds
                        error!(error = %e, "syncing the database failed; stopping");
                        std::process::abort();
                    }
                    due.into_iter().for_each(|act| act());
                }
            })
            .expect("spawn the sync thread");
        Self {
            tx: Some(tx),
            thread: Some(thread),
            store,
        }
    }

    /// Runs `act` once every write made so far is on disk.
    pub(super) fn then(&self, act: impl FnOnce() + Send + 'static) {
        let tx = self.tx.as_ref().expect("set until dropped");
        if let Err(mpsc::SendError(act)) = tx.send(Box::new(act)) {
            // the thread is gone (an action panicked): sync here
            match self.store.sync() {
                Ok(()) => act(),
                Err(e) => error!(error = %e, "syncing the database failed"),
            }
        }
    }
}

impl Drop for Durable {
    /// Settles what is queued before the database can go away (a sync racing the process's
    /// exit would touch RocksDB while it is torn down).
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Actions run in the order given, and dropping the handle returns only once every
    /// queued action has run. (Whether each ran after a sync, this test cannot see.)
    #[test]
    fn actions_run_in_order_and_all_before_drop_returns() {
        let dir = tempfile::tempdir().expect("temp dir");
        let durable = Durable::spawn(Arc::new(Store::open(dir.path()).expect("open store")));
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..200u32 {
            let seen = seen.clone();
            durable.then(move || seen.lock().expect("lock").push(i));
        }
        drop(durable);
        assert_eq!(*seen.lock().expect("lock"), (0..200).collect::<Vec<_>>());
    }
}
