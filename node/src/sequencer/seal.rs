//! Sealing a batch: building it from the L1 queue and the mempool, in one RocksDB write.

use super::*;
use ferry_circuits::ops::L1Address;

impl Sequencer {
    /// Seals a batch if there is anything to seal and the proving pipeline has room;
    /// returns whether it did.
    pub(super) fn seal_if_possible(&mut self) -> bool {
        if self.diverged.is_some() {
            return false; // what it sealed could never go to L1
        }
        let queued = self.deposits.len() as u64;
        if self.mempool.is_empty() && self.deposit_cursor >= queued {
            return false;
        }
        let permit = match self.prove_tx.clone().try_reserve_owned() {
            Ok(p) => p,
            Err(_) => return false, // proving is behind: keep transactions pending (back-pressure)
        };
        let started = std::time::Instant::now();
        match self.seal(queued) {
            Ok(Some((stored, w))) => {
                let m = &self.metrics;
                Metrics::time(&m.seal_seconds, &m.seal_time, started.elapsed());
                Metrics::raise(&m.proving_queue, 1);
                if self.proves {
                    self.in_flight += 1;
                }
                // announced and proven only once on disk
                let (metrics, events) = (self.metrics.clone(), self.events.clone());
                self.durable.then(move || {
                    Metrics::add(&metrics.txs_sealed, stored.txs.len() as u64);
                    Metrics::add(&metrics.batches_sealed, 1);
                    permit.send((stored.number, w));
                    let _ = events.send(stored);
                });
                true
            }
            Ok(None) => false,
            Err(e) => {
                warn!(error = %e, "sealing failed");
                false
            }
        }
    }

    /// Builds the next batch and writes it (without waiting for the disk); returns it and
    /// its witness.
    pub(super) fn seal(
        &mut self,
        queued: u64,
    ) -> Result<Option<(StoredBatch, BatchWitness)>, StoreError> {
        let params = self.cfg.params;
        let number = self.next_batch;
        let mut b = BatchBuilder::new(
            &mut self.state,
            params,
            self.l1.domain(),
            self.cfg.fee_account,
        );
        let mut deposits = Vec::new();
        let mut refunds = Vec::new();
        let mut touched: Vec<AccountId> = vec![self.cfg.fee_account];
        let mut next_free = self.next_free;
        while self.deposit_cursor + (deposits.len() as u64) < queued
            && deposits.len() < params.deposits
        {
            let idx = self.deposit_cursor + deposits.len() as u64;
            let d = self.deposits[idx as usize];
            // a forced withdrawal names its account; a deposit goes to its key and owner's
            let known = (d.forced_account())
                .or_else(|| self.by_key_owner.get(&(d.pubkey, d.owner)).copied());
            let id = known.unwrap_or(AccountId(next_free));
            match b.deposit(id, &d) {
                Ok(()) => {
                    if known.is_none() {
                        next_free += 1;
                    }
                    touched.push(id);
                    deposits.push((idx, id, d));
                }
                Err(e) if d.forced_account().is_some() => {
                    // only an id outside the tree, which the contract refuses to queue: an
                    // L1 at another depth than this node's circuit; nothing to refund
                    error!(index = idx, error = %e, "forced withdrawal cannot be taken: the queue stops here");
                    break;
                }
                Err(e) => {
                    // its account would overflow, or the tree is full: waiting would block
                    // every later deposit for good, so it goes back to its depositor
                    warn!(index = idx, amount = d.amount.0, error = %e,
                        "deposit cannot be applied: refunded to its depositor on L1");
                    b.refund_deposit(&d)
                        .expect("a deposit slot is free: deposits come first");
                    refunds.push(idx);
                    deposits.push((idx, AccountId(0), d));
                }
            }
        }
        // the deposit slots the queue left open accounts for the transfers to keys that have
        // no key-only account yet, among those that can make this batch
        let mut opened: HashMap<PublicKey, AccountId> = HashMap::new();
        let key_account = |k: &PublicKey, opened: &HashMap<PublicKey, AccountId>| {
            (self.by_key_owner.get(&(*k, L1Address::default())))
                .or_else(|| opened.get(k))
                .copied()
        };
        for k in self
            .mempool
            .iter()
            .take(params.transfers)
            .filter_map(|p| p.tx.to_key())
        {
            if deposits.len() + opened.len() == params.deposits {
                break;
            }
            if key_account(&k, &opened).is_none() {
                let id = AccountId(next_free);
                if let Err(e) = b.open_account(id, k) {
                    warn!(error = %e, "no account opened for a transfer to a key");
                    break; // the tree is full
                }
                opened.insert(k, id);
                next_free += 1;
            }
        }
        // the mempool's head, in arrival order, until the batch is full; a transfer to a key
        // goes to the key's key-only account
        let mut outcome: Vec<(AccountId, Result<(), String>)> = Vec::new();
        for p in &self.mempool {
            // only a transfer to a key is copied, to carry the account it is sent to
            let (to, verified) = match p.tx.to_key() {
                Some(k) => match key_account(&k, &opened) {
                    Some(id) => (id, std::borrow::Cow::Owned(p.verified.sent_to(id))),
                    None => break, // no slot left to open its account: the next batch
                },
                None => (p.tx.receiver(), std::borrow::Cow::Borrowed(&p.verified)),
            };
            match verified.apply(&mut b) {
                Ok(()) => outcome.push((to, Ok(()))),
                Err(BatchError::Full { .. }) | Err(BatchError::OutOfOrder { .. }) => break,
                Err(e) => outcome.push((to, Err(e.to_string()))),
            }
        }
        if deposits.is_empty() && outcome.is_empty() && opened.is_empty() {
            return Ok(None);
        }
        let sealed = match b.seal() {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "batch refused whole");
                return Ok(None);
            }
        };
        let mut w = self.store.batch();
        let mut txs = Vec::new();
        let mut rejected = 0;
        for (p, (to, r)) in self.mempool.iter().zip(&outcome) {
            let status = match r {
                Ok(()) => {
                    touched.push(p.tx.from());
                    if let L2Tx::Transfer(_) = &p.tx {
                        touched.push(*to);
                    }
                    txs.push(p.hash);
                    TxStatus::Sealed { batch: number }
                }
                Err(reason) => {
                    rejected += 1;
                    TxStatus::Rejected {
                        reason: reason.clone(),
                    }
                }
            };
            let rec = TxRecord {
                hash: p.hash,
                tx: p.tx.sent_to(*to),
                status,
                received_at_ms: p.received_at_ms,
            };
            w.put(TXS, &p.hash, &rec);
            w.delete(MEMPOOL, &p.seq);
        }
        // the deposits that reached an account, by which its key and owner find it
        let applied = || {
            (deposits.iter())
                .filter(|(i, _, d)| !refunds.contains(i) && d.forced_account().is_none())
        };
        let new_accounts = || {
            (applied().map(|(_, id, d)| (d.pubkey, d.owner, *id)))
                .chain(opened.iter().map(|(k, id)| (*k, L1Address::default(), *id)))
        };
        // the first account of a key is its entry, as `by_pubkey` below and a restart's
        // rebuild (lowest id) have it: a batch may open two for one key (two depositors, or
        // a deposit and an opening)
        let mut indexed = std::collections::HashSet::new();
        for (k, _, id) in new_accounts() {
            if !self.by_pubkey.contains_key(&k) && indexed.insert(k) {
                w.put(ACCOUNT_BY_PUBKEY, &k, &id);
            }
        }
        touched.extend(opened.values());
        w.put_accounts(&self.state, touched);
        let stored = StoredBatch {
            number,
            old_root: hex_root(&sealed.old_root()),
            new_root: hex_root(&sealed.new_root()),
            pubdata: hex::encode(sealed.pubdata()),
            txs,
            deposits: deposits.iter().map(|(i, id, _)| (*i, *id)).collect(),
            refunds: refunds.clone(),
            status: BatchStatus::Sealed,
            proof: None,
            sealed_at_ms: now_ms(),
            proven_at_ms: None,
            verified_at_ms: None,
            l1_block: None,
            l1_gas: None,
        };
        w.put(BATCHES, &number, &stored);
        w.put(META, &"next_batch", &serde_json::json!(number + 1));
        w.put(
            META,
            &"deposit_cursor",
            &serde_json::json!(self.deposit_cursor + deposits.len() as u64),
        );
        w.commit_unsynced()?;

        for (k, owner, id) in new_accounts() {
            self.by_pubkey.entry(k).or_insert(id);
            self.by_key_owner.entry((k, owner)).or_insert(id);
        }
        self.next_free = next_free;
        self.deposit_cursor += deposits.len() as u64;
        self.next_batch += 1;
        for _ in 0..outcome.len() {
            if let Some(p) = self.mempool.pop_front() {
                self.forget_pending(&p);
            }
        }
        Metrics::add(&self.metrics.txs_rejected, rejected);
        Metrics::set(&self.metrics.mempool, self.mempool.len() as u64);
        info!(batch = number, txs = stored.txs.len(), deposits = deposits.len(), refunded = stored.refunds.len(), opened = opened.len(), rejected, root = %stored.new_root, "batch sealed");
        Ok(Some((stored, sealed.witness)))
    }
}
