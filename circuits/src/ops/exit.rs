//! Exodus exits of accounts that no L1 address owns.
//!
//! An account opened by a transfer to a key (op code 6) has owner 0: no deposit made it, so no
//! L1 address may claim it. In exodus its balance goes to the L1 address that its key signs
//! for: `Poseidon([8, domain, account_id, recipient])`, signed like every L2 message
//! (circomlibjs `signPoseidon`), which `FerryRollup.exitWithKey` verifies on L1.

use super::{tag, AccountId, L1Address};
use crate::domain::Domain;
use crate::eddsa::{PrivateKey, Signature};
use crate::field::Fr;
use crate::poseidon::poseidon;

/// The message a key-only account's key signs to have its exit paid to `recipient`.
pub fn exit_message(domain: Domain, id: AccountId, recipient: L1Address) -> Fr {
    poseidon(&[
        Fr::from(u64::from(tag::EXIT)),
        domain.to_fr(),
        Fr::from(u64::from(id.0)),
        recipient.to_fr(),
    ])
}

/// Signs the exit of account `id` to `recipient` for `domain`.
pub fn sign_exit(
    domain: Domain,
    id: AccountId,
    recipient: L1Address,
    key: &PrivateKey,
) -> Signature {
    key.sign(exit_message(domain, id, recipient))
}
