//! The rollup contract's rules in Rust: the embedded devnet's L1. Same inputs as
//! `FerryRollup.sol`, same checks in the same order, same errors (named as the Solidity
//! custom errors), so the two accept and reject the same batches.

use crate::evm::{proof_from_words, Word};
use ark_bn254::Fr;
use ark_ff::PrimeField;
use ferry_circuits::babyjubjub::point_on_curve;
use ferry_circuits::ops::opcode;
use ferry_circuits::ops::L1Address;
use ferry_circuits::pubdata::{DEPOSIT_LEN, HEADER_LEN, TRANSFER_LEN, WITHDRAW_LEN};
use ferry_circuits::{CircuitParams, Domain};
use ferry_prover::Curve;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use std::collections::{BTreeMap, BTreeSet};

mod exodus;
pub use exodus::KeyExit;

/// Wei per base unit (1 gwei).
pub const GWEI: u128 = 1_000_000_000;

/// Why the contract reverts; each variant is the Solidity custom error of the same name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum L1Error {
    /// msg.value is 0, not whole gwei, or at least 2^64 gwei.
    #[error("BadDepositAmount")]
    BadDepositAmount,
    /// The deposit's key is not on Baby Jubjub.
    #[error("BadPubkey")]
    BadPubkey,
    /// The contract is in exodus mode.
    #[error("ExodusActive")]
    ExodusActive,
    /// Only in exodus mode.
    #[error("NotExodus")]
    NotExodus,
    /// The oldest queued deposit is not overdue.
    #[error("ExodusNotDue")]
    ExodusNotDue,
    /// Public data of the wrong length.
    #[error("BadPubdataLength")]
    BadPubdataLength,
    /// An op code that does not belong in its slot.
    #[error("UnknownOp({0})")]
    UnknownOp(u64),
    /// The batch has more deposits than the queue.
    #[error("QueueExhausted")]
    QueueExhausted,
    /// A deposit record differs from the queue entry it must consume.
    #[error("DepositMismatch({0})")]
    DepositMismatch(u64),
    /// The proof does not verify against the stored root and the public data.
    #[error("InvalidProof")]
    InvalidProof,
    /// A public input (the new root) is not below the scalar field modulus.
    #[error("InputOutOfField")]
    InputOutOfField,
    /// Nothing credited to the caller.
    #[error("NothingToClaim")]
    NothingToClaim,
    /// `submitBatch` from another address than the operator.
    #[error("NotOperator")]
    NotOperator,
    /// The deposit was processed, refunded, or does not exist.
    #[error("NotRefundable({0})")]
    NotRefundable(u64),
    /// The account already exited.
    #[error("AlreadyExited({0})")]
    AlreadyExited(u64),
    /// The exit's Merkle proof does not lead to the stored root.
    #[error("BadMerkleProof")]
    BadMerkleProof,
    /// `forceWithdraw` names an id outside the tree.
    #[error("BadAccountId")]
    BadAccountId,
    /// `exit` of an account with no L1 owner (owner 0): only `exitWithKey` pays it.
    #[error("KeyOnlyAccount({0})")]
    KeyOnlyAccount(u64),
    /// `exitWithKey`'s signature is not by the account's key over its exit message.
    #[error("BadSignature")]
    BadSignature,
    /// `exitWithKey` to the zero address, whose credit no one could claim.
    #[error("ZeroRecipient")]
    ZeroRecipient,
    /// Paying out failed. The mirror fails a payment only when the contract holds too
    /// little ether (payees are plain accounts).
    #[error("TransferFailed")]
    TransferFailed,
}

/// One queue entry: a deposit, or (amount 0) a forced withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityOp {
    /// Who paid.
    pub depositor: L1Address,
    /// Amount in gwei.
    pub amount: u64,
    /// L1 block it was queued in.
    pub block: u64,
}

/// The contract's storage (what the node persists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorState {
    /// The circuit the verifier's key is for.
    pub params: CircuitParams,
    /// Blocks a deposit may wait before exodus can be triggered.
    pub exodus_delay: u64,
    /// Current L1 block.
    pub block: u64,
    /// Last verified root.
    #[serde(with = "hex_word")]
    pub state_root: Word,
    /// Batches accepted.
    pub batch_count: u64,
    /// The only address that may submit batches (the deployer).
    #[serde(default)]
    pub operator: L1Address,
    /// The deployment's name in every signature and proof (`FerryRollup.domain`).
    pub domain: Domain,
    /// Every deposit ever queued.
    pub queue: Vec<PriorityOp>,
    /// Rolling commitments: `rolling[i+1] = keccak(rolling[i] ‖ keccak(deposit i))`.
    pub rolling: Vec<Word>,
    /// First unprocessed deposit.
    pub queue_head: u64,
    /// Credited withdrawals, in wei.
    pub pending: BTreeMap<L1Address, u128>,
    /// Exodus mode.
    pub exodus: bool,
    /// Refunded deposits.
    pub refunded: BTreeSet<u64>,
    /// Exited accounts.
    pub exited: BTreeSet<u64>,
    /// Wei received by deposits.
    pub total_deposited: u128,
    /// Wei paid by claims.
    pub total_claimed: u128,
    /// Wei paid by refunds.
    pub total_refunded: u128,
    /// Wei the contract held without a deposit: a devnet's backing of its prefunded genesis
    /// balances (anvil: `anvil_setBalance` at deployment).
    #[serde(default)]
    pub genesis_wei: u128,
    /// Every accepted batch's roots and public data: what an L1 keeps in its calldata and
    /// `BatchVerified` logs, from which a node can rebuild the state (a real chain keeps it
    /// forever; so does this mirror).
    #[serde(default)]
    pub history: Vec<PublishedBatch>,
}

/// An accepted batch as the L1 publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedBatch {
    /// Its number.
    pub number: u64,
    /// Root before.
    #[serde(with = "hex_word")]
    pub old_root: Word,
    /// Root after.
    #[serde(with = "hex_word")]
    pub new_root: Word,
    /// The public data, hex.
    pub pubdata: String,
}

mod hex_word {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(w: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(w))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let v = hex::decode(String::deserialize(d)?).map_err(D::Error::custom)?;
        v.try_into().map_err(|_| D::Error::custom("32 bytes"))
    }
}

/// What an accepted batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Its number.
    pub batch_number: u64,
    /// Deposits it consumed.
    pub deposits: u64,
    /// Withdrawals credited: (address, gwei).
    pub withdrawals: Vec<(L1Address, u64)>,
    /// Deposits refunded, credited back to their depositors: (queue index, depositor, gwei).
    pub refunds: Vec<(u64, L1Address, u64)>,
}

/// The rollup contract, in Rust.
#[derive(Debug)]
pub struct Mirror {
    pvk: ark_groth16::PreparedVerifyingKey<Curve>,
    /// Its storage.
    pub state: MirrorState,
}

fn keccak(parts: &[&[u8]]) -> Word {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// `Fr` of a word, if below the modulus.
pub fn fr_of(w: &Word) -> Option<Fr> {
    let n = num_bigint::BigUint::from_bytes_be(w);
    (n < Fr::MODULUS.into()).then(|| Fr::from(n))
}

/// The word of a field element.
pub fn word_of(x: &Fr) -> Word {
    ferry_circuits::field::fr_to_be32(x)
}

impl Mirror {
    /// Deploys, by `operator`, as the deployment `domain`: `genesis_root` is the state the
    /// first batch starts from.
    pub fn new(
        vk: &ark_groth16::VerifyingKey<Curve>,
        params: CircuitParams,
        genesis_root: Fr,
        exodus_delay: u64,
        operator: L1Address,
        domain: Domain,
    ) -> Self {
        Self::restore(
            vk,
            MirrorState {
                params,
                exodus_delay,
                block: 0,
                state_root: word_of(&genesis_root),
                batch_count: 0,
                operator,
                domain,
                queue: Vec::new(),
                rolling: vec![[0; 32]],
                queue_head: 0,
                pending: BTreeMap::new(),
                exodus: false,
                refunded: BTreeSet::new(),
                exited: BTreeSet::new(),
                total_deposited: 0,
                total_claimed: 0,
                total_refunded: 0,
                genesis_wei: 0,
                history: Vec::new(),
            },
        )
    }

    /// Rebuilds a mirror from persisted storage.
    pub fn restore(vk: &ark_groth16::VerifyingKey<Curve>, state: MirrorState) -> Self {
        Self {
            pvk: ark_groth16::prepare_verifying_key(vk),
            state,
        }
    }

    /// Wei the contract holds: genesis backing + deposits − claims − refunds.
    pub fn balance(&self) -> u128 {
        self.state.genesis_wei + self.state.total_deposited
            - self.state.total_claimed
            - self.state.total_refunded
    }

    /// Advances the L1 clock (the EVM's `anvil_mine`).
    pub fn mine(&mut self, blocks: u64) {
        self.state.block += blocks;
    }

    fn tick(&mut self) -> u64 {
        self.state.block += 1;
        self.state.block
    }

    /// `deposit(pubkeyX, pubkeyY)` with `value` wei from `sender`; returns the queue index.
    pub fn deposit(
        &mut self,
        sender: L1Address,
        value: u128,
        pubkey: [Word; 2],
    ) -> Result<u64, L1Error> {
        if self.state.exodus {
            return Err(L1Error::ExodusActive);
        }
        if value == 0 || !value.is_multiple_of(GWEI) || value / GWEI > u128::from(u64::MAX) {
            return Err(L1Error::BadDepositAmount);
        }
        let (x, y) = (fr_of(&pubkey[0]), fr_of(&pubkey[1]));
        let on_curve = matches!((x, y), (Some(x), Some(y)) if point_on_curve(x, y).is_some());
        if !on_curve {
            return Err(L1Error::BadPubkey);
        }
        let amount = (value / GWEI) as u64;
        self.state.total_deposited += value;
        Ok(self.enqueue(sender, amount, &pubkey))
    }

    /// `forceWithdraw(accountId)` from `sender`; returns the queue index.
    pub fn force_withdraw(&mut self, sender: L1Address, account_id: u64) -> Result<u64, L1Error> {
        if self.state.exodus {
            return Err(L1Error::ExodusActive);
        }
        if account_id >> (2 * self.state.params.depth) != 0 {
            return Err(L1Error::BadAccountId);
        }
        let mut id = [0; 32];
        id[24..].copy_from_slice(&account_id.to_be_bytes());
        Ok(self.enqueue(sender, 0, &[id, [0; 32]]))
    }

    /// Appends `sender`'s entry `amount ‖ sender ‖ words` to the queue, in a new block.
    fn enqueue(&mut self, sender: L1Address, amount: u64, words: &[Word; 2]) -> u64 {
        let entry = keccak(&[&amount.to_be_bytes(), &sender.0, &words[0], &words[1]]);
        let last = *self.state.rolling.last().expect("rolling starts at 0");
        self.state.rolling.push(keccak(&[&last, &entry]));
        let block = self.tick();
        self.state.queue.push(PriorityOp {
            depositor: sender,
            amount,
            block,
        });
        self.state.queue.len() as u64 - 1
    }

    fn pubdata_len(&self) -> usize {
        self.state.params.pubdata_len()
    }

    /// `submitBatch(newRoot, pubdata, proof)`.
    pub fn submit_batch(
        &mut self,
        caller: L1Address,
        new_root: Word,
        pubdata: &[u8],
        proof: &[Word; 8],
    ) -> Result<BatchOutcome, L1Error> {
        let s = &self.state;
        if s.exodus {
            return Err(L1Error::ExodusActive);
        }
        if caller != s.operator {
            return Err(L1Error::NotOperator);
        }
        if pubdata.len() != self.pubdata_len() {
            return Err(L1Error::BadPubdataLength);
        }
        let p = s.params;
        let mut head = s.queue_head;
        let mut h = s.rolling[head as usize];
        let mut off = HEADER_LEN;
        for _ in 0..p.deposits {
            match pubdata[off] {
                // applied on L2, or refunded (credited back once the proof holds), or a
                // forced withdrawal, whose amount the queue entry has as 0
                code @ (opcode::DEPOSIT | opcode::REFUND | opcode::FORCED_WITHDRAW) => {
                    if head as usize >= s.queue.len() {
                        return Err(L1Error::QueueExhausted);
                    }
                    let entry = if code == opcode::FORCED_WITHDRAW {
                        keccak(&[&[0; 8], &pubdata[off + 12..off + DEPOSIT_LEN]])
                    } else {
                        keccak(&[&pubdata[off + 4..off + DEPOSIT_LEN]])
                    };
                    h = keccak(&[&h, &entry]);
                    head += 1;
                    if h != s.rolling[head as usize] {
                        return Err(L1Error::DepositMismatch(head - 1));
                    }
                }
                // opens an account for a key: no queue entry, the circuit proves it
                opcode::NOOP | opcode::OPEN_ACCOUNT => {}
                _ => return Err(L1Error::UnknownOp(off as u64)),
            }
            off += DEPOSIT_LEN;
        }
        // transfer and withdrawal slots need no look: the circuit spells each op code itself,
        // so a record with another code has no proof
        let w_off = off + p.transfers * TRANSFER_LEN;

        let old = fr_of(&s.state_root).expect("stored roots are field elements");
        let new = fr_of(&new_root).ok_or(L1Error::InputOutOfField)?;
        let inputs = ferry_circuits::pubdata::public_inputs(old, new, s.domain, pubdata);
        let proof = proof_from_words(proof).ok_or(L1Error::InvalidProof)?;
        let ok = ark_groth16::Groth16::<Curve>::verify_proof(&self.pvk, &proof, &inputs)
            .unwrap_or(false);
        if !ok {
            return Err(L1Error::InvalidProof);
        }

        let mut refunds = Vec::new();
        let mut withdrawals = Vec::new();
        let mut index = self.state.queue_head;
        for slot in 0..p.deposits {
            let off = HEADER_LEN + slot * DEPOSIT_LEN;
            let amount = u64::from_be_bytes(pubdata[off + 4..off + 12].try_into().expect("8"));
            let to = L1Address(pubdata[off + 12..off + 32].try_into().expect("20"));
            let credited = match pubdata[off] {
                opcode::REFUND => {
                    refunds.push((index, to, amount));
                    true
                }
                opcode::FORCED_WITHDRAW if amount != 0 => {
                    withdrawals.push((to, amount));
                    true
                }
                _ => false,
            };
            if credited {
                *self.state.pending.entry(to).or_default() += u128::from(amount) * GWEI;
            }
            // only these took a queue entry: an op 6 must not shift the indexes after it
            if matches!(
                pubdata[off],
                opcode::DEPOSIT | opcode::REFUND | opcode::FORCED_WITHDRAW
            ) {
                index += 1;
            }
        }
        let mut off = w_off;
        for _ in 0..p.withdrawals {
            if pubdata[off] == opcode::WITHDRAW {
                let amount = u64::from_be_bytes(pubdata[off + 4..off + 12].try_into().expect("8"));
                let to = L1Address(pubdata[off + 14..off + 34].try_into().expect("20"));
                *self.state.pending.entry(to).or_default() += u128::from(amount) * GWEI;
                withdrawals.push((to, amount));
            }
            off += WITHDRAW_LEN;
        }
        let deposits = head - self.state.queue_head;
        let batch_number = self.state.batch_count;
        self.state.history.push(PublishedBatch {
            number: batch_number,
            old_root: self.state.state_root,
            new_root,
            pubdata: hex::encode(pubdata),
        });
        self.state.state_root = new_root;
        self.state.queue_head = head;
        self.state.batch_count += 1;
        self.tick();
        Ok(BatchOutcome {
            batch_number,
            deposits,
            withdrawals,
            refunds,
        })
    }

    /// `claim()` by `caller`: returns the wei paid.
    pub fn claim(&mut self, caller: L1Address) -> Result<u128, L1Error> {
        let amount = self.state.pending.get(&caller).copied().unwrap_or(0);
        if amount == 0 {
            return Err(L1Error::NothingToClaim);
        }
        if amount > self.balance() {
            return Err(L1Error::TransferFailed);
        }
        self.state.pending.remove(&caller);
        self.state.total_claimed += amount;
        self.tick();
        Ok(amount)
    }
}
