//! Finishing a batch once its proof is back: the proof is stored with the batch, and proofs
//! go to L1 in batch order from the lowest batch the L1 has not verified. A failed L1 call
//! is retried with backoff; an unreachable L1 is said once (log, `ferry_chainInfo`'s
//! `l1.error`, the `ferry_l1_up` gauge), and the node catches up on its own when it returns.

use super::*;
use crate::node::put_status;

impl Sequencer {
    /// A proof (or a failed proving job) came back for batch `n`.
    pub(super) async fn on_proof(
        &mut self,
        n: u64,
        res: Result<ferry_prover::Proof, (String, Box<BatchWitness>)>,
    ) {
        let proof = match res {
            Ok(p) => p,
            Err((why, witness)) => {
                error!(batch = n, error = %why, "proving failed: the batch is proven again");
                Metrics::add(&self.metrics.proofs_failed, 1);
                self.reprove.insert(n, *witness);
                return;
            }
        };
        Metrics::add(&self.metrics.batches_proven, 1);
        if let Err(e) = self.store_proof(n, &proof) {
            // the proof is lost with this write; the batch is proven again at the next start
            error!(batch = n, error = %e, "storing the proof failed");
            return;
        }
        self.submit_ready().await;
    }

    /// Stores the proof with its batch (status `proven`), so that it survives a restart and
    /// an L1 outage.
    fn store_proof(&mut self, n: u64, proof: &ferry_prover::Proof) -> Result<(), String> {
        let e = |e: StoreError| e.to_string();
        let mut batch = self
            .store
            .get(BATCHES, &n)
            .map_err(e)?
            .ok_or("unknown batch")?;
        if batch.status == BatchStatus::Verified {
            return Ok(());
        }
        batch.proof = Some(ferry_prover::export::proof_json(proof));
        let mut w = self.store.batch();
        put_status(&self.store, &mut w, &mut batch, BatchStatus::Proven).map_err(e)?;
        w.commit().map_err(e)?;
        let _ = self.events.send(batch);
        Ok(())
    }

    /// Submits stored proofs to L1 in batch order, from the lowest batch it has not
    /// verified, until one is missing or the L1 fails (then it waits for the next retry).
    pub(super) async fn submit_ready(&mut self) {
        let mut rewound = false;
        while self.l1_health.due() && self.diverged.is_none() {
            let n = self.next_submit;
            let mut batch = match self.store.get(BATCHES, &n) {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(e) => {
                    error!(batch = n, error = %e, "reading the batch to submit failed");
                    break;
                }
            };
            let Some(proof) = batch
                .proof
                .as_ref()
                .and_then(ferry_prover::export::proof_from_json)
            else {
                break; // not proven yet
            };
            let (root, pubdata) = match decode(&batch) {
                Ok(d) => d,
                Err(e) => {
                    error!(batch = n, error = %e, "stored batch is corrupt");
                    break;
                }
            };
            match self
                .l1
                .submit_batch(root, &pubdata, &proof_words(&proof))
                .await
            {
                Ok(receipt) => {
                    self.l1_ok();
                    batch.l1_block = Some(receipt.block);
                    batch.l1_gas = receipt.gas;
                    self.verified(batch).await;
                }
                Err(e) => {
                    // the L1 may have taken it already (an answer lost), or lost batches it
                    // had verified (anvil restarted from a state saved before them)
                    match self.l1.view().await {
                        Ok(v) if v.batch_count > n && self.l1_agrees(&v).is_ok() => {
                            info!(batch = n, "the L1 had verified the batch already");
                            self.verified(batch).await;
                            continue;
                        }
                        Ok(v) if v.batch_count < n && !rewound => {
                            self.rewind(v.batch_count);
                            rewound = true;
                            continue;
                        }
                        _ => {}
                    }
                    Metrics::add(&self.metrics.l1_refusals, 1);
                    self.l1_failed(format!("submitting batch {n}: {e}")).await;
                    break;
                }
            }
        }
        Metrics::set(
            &self.metrics.l1_backlog,
            self.next_batch.saturating_sub(self.next_submit),
        );
    }

    /// Whether the L1's verified chain is a prefix of this node's: no more batches than it
    /// sealed, the root after them that of its own batch, and the queue head where its own
    /// batches left it. Anything else means another chain went to L1 (the operator's key
    /// used elsewhere, or a node pointed at another deployment).
    pub(super) fn l1_agrees(&self, v: &L1View) -> Result<(), String> {
        let count = v.batch_count;
        if count > self.next_batch {
            return Err(format!(
                "the L1 verified {count} batches, this node sealed {}",
                self.next_batch
            ));
        }
        let Some(last) = count.checked_sub(1) else {
            return Ok(());
        };
        let ours = self
            .store
            .get(BATCHES, &last)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("batch {last} is missing here"))?;
        if ours.new_root != v.state_root {
            return Err(format!(
                "after {count} batches the L1's root is {}, this node's {}",
                v.state_root, ours.new_root
            ));
        }
        let head = self.queue_head_after(last)?;
        if head != v.queue_head {
            return Err(format!(
                "after {count} batches the L1's deposit queue head is {}, this node's {head}",
                v.queue_head
            ));
        }
        Ok(())
    }

    /// The deposits batches `0..=n` took: one past the last queue index among them. The
    /// L1 is compared at every tick, so the answer for the last `n` asked is kept and the
    /// next one reads only the batches after it (all of them after a rewind, and once at
    /// start).
    fn queue_head_after(&self, n: u64) -> Result<u64, String> {
        let (from, mut head) = match self.queue_head_seen.get() {
            Some((k, h)) if k <= n => (k + 1, h),
            _ => (0, 0),
        };
        for k in from..=n {
            let b = self
                .store
                .get(BATCHES, &k)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("batch {k} is missing here"))?;
            if let Some(last) = b.deposits.iter().map(|(i, _)| *i).max() {
                head = last + 1;
            }
        }
        self.queue_head_seen.set(Some((n, head)));
        Ok(head)
    }

    /// Compares a fresh L1 view with this node's chain; on the first difference, stops
    /// sealing and submitting and says so (log, `ferry_chainInfo.l1.diverged`, metric).
    pub(super) fn watch_l1(&mut self, v: &L1View) {
        if self.diverged.is_some() {
            return;
        }
        if let Err(why) = self.l1_agrees(v) {
            error!(
                error = %why,
                "the L1 holds another chain than this node: sealing and submitting stopped; \
                 find who else submits with the operator's key, or rebuild with `ferry restore`"
            );
            Metrics::set(&self.metrics.l1_diverged, 1);
            self.diverged = Some(why);
        }
    }

    /// Records batch `next_submit` as verified on L1.
    async fn verified(&mut self, mut batch: StoredBatch) {
        let n = batch.number;
        let mut w = self.store.batch();
        if let Err(e) = put_status(&self.store, &mut w, &mut batch, BatchStatus::Verified) {
            error!(batch = n, error = %e, "reading the batch's transactions failed");
        }
        self.l1.persist(&mut w);
        if let Err(e) = w.commit() {
            // the L1 holds it: the next start finds it verified there and records it
            error!(batch = n, error = %e, "recording the verified batch failed");
        }
        self.next_submit = n + 1;
        Metrics::add(&self.metrics.batches_verified, 1);
        let waited = now_ms().saturating_sub(batch.sealed_at_ms);
        self.metrics.l1_verify_time.observe(waited as f64 / 1e3);
        self.publish_l1().await;
        info!(batch = n, "batch verified on L1");
        let _ = self.events.send(batch);
    }

    /// The L1 verified only `count` batches (it lost the rest): they are proven, not
    /// verified, and go to it again.
    fn rewind(&mut self, count: u64) {
        warn!(
            from = count,
            to = self.next_submit,
            "the L1 lost verified batches (restarted from older state): submitting them again"
        );
        let mut w = self.store.batch();
        let r = (count..self.next_submit).try_for_each(|k| match self.store.get(BATCHES, &k)? {
            Some(mut b) => put_status(&self.store, &mut w, &mut b, BatchStatus::Proven),
            None => Ok(()),
        });
        if let Err(e) = r.and_then(|()| w.commit()) {
            error!(error = %e, "recording the lost batches failed");
        }
        Metrics::add(&self.metrics.l1_batches_lost, self.next_submit - count);
        self.next_submit = count;
    }

    /// An L1 call failed: say so once, wait longer before the next try, and restart an
    /// anvil this node owns if it died.
    pub(super) async fn l1_failed(&mut self, why: String) {
        Metrics::add(&self.metrics.l1_failures, 1);
        Metrics::set(&self.metrics.l1_up, 0);
        let h = &mut self.l1_health;
        if h.down.is_none() {
            error!(
                error = %why,
                limit = self.cfg.l1_backlog,
                "L1 unreachable: batches wait for it and are retried; new transactions are \
                 refused once `limit` batches wait"
            );
        }
        h.retry_at = std::time::Instant::now() + h.delay;
        h.delay = (h.delay * 2).min(L1_RETRY_MAX);
        h.down = Some(why);
        self.show_health();
        match self.l1.revive().await {
            Ok(true) => warn!("the L1 (anvil) had exited: restarted from its state file"),
            Ok(false) => {}
            Err(e) => warn!(error = %e, "restarting anvil failed"),
        }
    }

    /// An L1 call succeeded.
    pub(super) fn l1_ok(&mut self) {
        let h = &mut self.l1_health;
        h.delay = L1_RETRY_MIN;
        Metrics::set(&self.metrics.l1_up, 1);
        if h.down.take().is_some() {
            info!(
                waiting = self.next_batch.saturating_sub(self.next_submit),
                "L1 reachable again: catching up"
            );
            self.show_health();
        }
    }

    /// Puts the L1's health into the published view (`ferry_chainInfo`'s `l1.error`).
    fn show_health(&self) {
        let error = self.l1_health.down.clone();
        self.l1_view.send_if_modified(|v| {
            let changed = v.error != error;
            v.error = error;
            changed
        });
    }
}

/// A stored batch's new root and public data, as L1 takes them.
fn decode(b: &StoredBatch) -> Result<([u8; 32], Vec<u8>), String> {
    let root = hex::decode(b.new_root.trim_start_matches("0x"))
        .map_err(|e| format!("root: {e}"))?
        .try_into()
        .map_err(|_| "a root is 32 bytes".to_string())?;
    let pubdata = hex::decode(&b.pubdata).map_err(|e| format!("public data: {e}"))?;
    Ok((root, pubdata))
}
