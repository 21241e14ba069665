//! A withdrawal proven on L2 is claimable on L1 in the very block that verifies its batch:
//! no challenge window.

#[path = "common/rollup.rs"]
mod rollup;

use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::{Account, AccountId, Amount, L1Address};
use ferry_circuits::State;
use ferry_contracts::mirror::{word_of, GWEI};
use ferry_node::l1::anvil::{Anvil, DEV_KEYS};
use ferry_node::l1::evm::{address_of, EvmL1};
use ferry_prover::keys::Keys;
use rand::SeedableRng;
use rollup::{Rollup, DELAY, PARAMS, SALT};
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_withdrawal_is_claimable_in_the_verifying_block() {
    let anvil = Anvil::spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (keys, _) = Keys::load_or_generate(dir.path(), PARAMS, Some(9), true).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
    let alice = PrivateKey::random(&mut rng);
    let mut state = State::new(PARAMS.depth);
    // genesis: alice's account 1, owned by the L1 address she deposits from, and the fee
    // account 0
    let alice_l1 = address_of(DEV_KEYS[1]).unwrap();
    for (id, k) in [(0u32, PrivateKey::random(&mut rng)), (1, alice.clone())] {
        let a = Account {
            pubkey: k.public_key(),
            balance: 0,
            nonce: 0,
            owner: if id == 1 {
                alice_l1
            } else {
                L1Address([0; 20])
            },
        };
        state.insert_genesis(AccountId(id), a).unwrap();
    }
    let (evm, _) = EvmL1::deploy(
        &anvil.url,
        DEV_KEYS[0],
        keys.vk(),
        PARAMS,
        word_of(&state.root()),
        DELAY,
        SALT,
    )
    .await
    .unwrap();
    let domain = evm.domain().await.unwrap();
    let pk = alice.public_key();
    evm.with_key(DEV_KEYS[1])
        .unwrap()
        .deposit([word_of(&pk.x), word_of(&pk.y)], 2_000 * GWEI)
        .await
        .unwrap();
    let mut r = Rollup {
        keys,
        domain,
        state,
        rng,
        alice,
    };
    let d = Deposit {
        pubkey: pk,
        owner: address_of(DEV_KEYS[1]).unwrap(),
        amount: Amount(2_000),
    };
    let b = Rollup::deposit_batch(&mut r.state, r.domain, 1, d);
    let p = r.prove(&b);
    evm.submit_batch(word_of(&b.new_root()), b.pubdata(), &p)
        .await
        .unwrap();

    let bob = DEV_KEYS[3];
    let requested = Instant::now();
    let w = r.withdraw_batch(1_500, address_of(bob).unwrap());
    let p = r.prove(&w);
    let proven = requested.elapsed();
    // the verifying transaction and the claim go into the same block
    evm.set_automine(false).await.unwrap();
    let submit = evm
        .send_submit_batch(word_of(&w.new_root()), w.pubdata(), &p, 1_000_000)
        .await
        .unwrap();
    let claim = evm
        .with_key(bob)
        .unwrap()
        .send_claim(100_000)
        .await
        .unwrap();
    evm.mine(1).await.unwrap();
    evm.set_automine(true).await.unwrap();
    let (verified, claimed) = (
        evm.receipt(submit).await.unwrap(),
        evm.receipt(claim).await.unwrap(),
    );
    let claimable = requested.elapsed();
    assert!(verified.status() && claimed.status(), "both succeed");
    let (vb, cb) = (
        verified.block_number.unwrap(),
        claimed.block_number.unwrap(),
    );
    assert_eq!(vb, cb, "claimed in the block that verified the batch");
    println!(
        "instant withdrawal: requested -> proven in {:.2} s -> verified and claimed in L1 block {vb}: {:.2} s in all (an optimistic rollup: 7 days = 604800 s)",
        proven.as_secs_f64(),
        claimable.as_secs_f64()
    );
    assert_eq!(evm.pending(&address_of(bob).unwrap()).await.unwrap(), 0);
}
