//! Admission: validating submissions against the state and the pending transactions ahead of them, and persisting each group in one write.

use super::*;

impl Sequencer {
    pub(super) fn push_pending(&mut self, p: Pending) {
        let e = self.pending.entry(p.tx.from()).or_default();
        e.0 += 1;
        e.1 = e.1.saturating_add(p.tx.debit());
        self.known.insert(p.hash);
        self.mempool.push_back(p);
    }

    pub(super) fn forget_pending(&mut self, p: &Pending) {
        if let Some(e) = self.pending.get_mut(&p.tx.from()) {
            e.0 -= 1;
            e.1 = e.1.saturating_sub(p.tx.debit());
            if e.0 == 0 {
                self.pending.remove(&p.tx.from());
            }
        }
        self.known.remove(&p.hash);
    }

    /// Validates a transaction against the state and the mempool ahead of it.
    pub(super) fn check(&self, inc: &Incoming) -> Result<(), SubmitError> {
        let tx = &inc.tx;
        if self.known.contains(&inc.hash)
            || self
                .store
                .get(TXS, &inc.hash)
                .map_err(|e| SubmitError::Unavailable(e.to_string()))?
                .is_some()
        {
            return Err(SubmitError::Known(inc.hash));
        }
        if let Some(why) = &self.diverged {
            return Err(SubmitError::Unavailable(format!(
                "the L1 holds another chain than this node ({why}); nothing is accepted"
            )));
        }
        let waiting = self.next_batch.saturating_sub(self.next_submit);
        if waiting >= self.cfg.l1_backlog {
            return Err(SubmitError::L1Backlog {
                waiting,
                why: self
                    .l1_health
                    .down
                    .clone()
                    .unwrap_or_else(|| "L1 is behind".into()),
            });
        }
        if self.mempool.len() >= self.cfg.mempool_limit {
            return Err(SubmitError::MempoolFull(self.mempool.len()));
        }
        if tx.fee() < self.cfg.min_fee {
            return Err(SubmitError::FeeTooLow {
                fee: tx.fee(),
                min: self.cfg.min_fee,
            });
        }
        let sender = self.state.existing(tx.from())?;
        let signer = match &inc.verified {
            VerifiedTx::Transfer(t) => {
                match t.signed().to_key {
                    // its account is found or opened when a batch takes it
                    Some(k) => {
                        if ferry_circuits::babyjubjub::point_on_curve(k.x, k.y).is_none() {
                            return Err(TxError::BadPubkey.into());
                        }
                    }
                    None => {
                        self.state.existing(t.tx().to)?;
                    }
                }
                t.signer()
            }
            VerifiedTx::Withdraw(w) => w.signer(),
        };
        if *signer != sender.pubkey {
            return Err(
                TxError::BadSignature(ferry_circuits::eddsa::SignatureError::Invalid).into(),
            );
        }
        let (count, debits) = self.pending.get(&tx.from()).copied().unwrap_or_default();
        let expected = sender.nonce + count;
        if tx.nonce() != expected {
            return Err(SubmitError::Nonce {
                expected,
                got: tx.nonce(),
            });
        }
        let available = sender.balance.saturating_sub(debits);
        if tx.debit() > available {
            return Err(SubmitError::Balance {
                available,
                needed: tx.debit(),
            });
        }
        Ok(())
    }

    /// Validates each submission in order, persists the accepted ones in one write, and
    /// answers every submitter once that write is on disk.
    pub(super) fn accept_group(&mut self, group: Vec<(Box<Incoming>, Reply)>) {
        let first_new = self.mempool.len();
        let mut answers = Vec::with_capacity(group.len());
        let store = self.store.clone();
        let mut w = store.batch();
        for (inc, reply) in group {
            match self.check(&inc) {
                Ok(()) => {
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    let received_at_ms = now_ms();
                    let record = TxRecord {
                        hash: inc.hash,
                        tx: inc.tx.clone(),
                        status: TxStatus::Pending,
                        received_at_ms,
                    };
                    w.put(TXS, &inc.hash, &record);
                    w.put(MEMPOOL, &seq, &inc.tx);
                    answers.push((reply, Ok(inc.hash)));
                    let Incoming { hash, tx, verified } = *inc;
                    self.push_pending(Pending {
                        seq,
                        hash,
                        tx,
                        verified,
                        received_at_ms,
                    });
                }
                Err(e) => answers.push((reply, Err(e))),
            }
        }
        let added = self.mempool.len() - first_new;
        if added > 0 {
            w.put(META, &"next_seq", &serde_json::json!(self.next_seq));
            if let Err(e) = w.commit_unsynced() {
                // nothing was written: forget the group
                for p in self.mempool.split_off(first_new) {
                    self.forget_pending(&p);
                }
                self.next_seq -= added as u64;
                for (_, r) in &mut answers {
                    if r.is_ok() {
                        *r = Err(SubmitError::Unavailable(e.to_string()));
                    }
                }
            }
        }
        Metrics::set(&self.metrics.mempool, self.mempool.len() as u64);
        let metrics = self.metrics.clone();
        let answer = move || {
            for (reply, r) in answers {
                Metrics::add(
                    if r.is_ok() {
                        &metrics.txs_accepted
                    } else {
                        &metrics.txs_refused
                    },
                    1,
                );
                let _ = reply.send(r);
            }
        };
        // a hash is given back only once its transaction is on disk
        if added > 0 {
            self.durable.then(answer);
        } else {
            answer();
        }
    }
}
