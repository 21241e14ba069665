//! One encoding per packed value, tried as a dishonest prover would: every transfer amount and
//! every fee of an honest batch is re-encoded as each (mantissa, exponent) that has its value,
//! and whenever the circuit is satisfied with the public data it then computes, that public
//! data must replay natively (`apply_pubdata`) to the root the circuit proved. Only the
//! canonical packing (smallest exponent) may pass.

mod common;

use common::*;
use ferry_circuits::circuit::{is_satisfied_with, synthesize_with, Overrides};
use ferry_circuits::ops::amount::{FloatFormat, Packed, AMOUNT_FORMAT, FEE_FORMAT};
use ferry_circuits::BatchWitness;
use rand::{Rng, SeedableRng};

/// Every packing of `value` in `format`, canonical or not.
fn encodings(format: FloatFormat, value: u64) -> Vec<Packed> {
    (0..1u32 << format.exponent_bits)
        .filter_map(|exponent| {
            if value == 0 {
                // zero is 0·10^e for every e, even where 10^e overflows u64
                return Some(Packed {
                    mantissa: 0,
                    exponent,
                });
            }
            let unit = 10u64.checked_pow(exponent)?;
            let fits = value.is_multiple_of(unit) && value / unit < 1 << format.mantissa_bits;
            fits.then_some(Packed {
                mantissa: value / unit,
                exponent,
            })
        })
        .collect()
}

/// The circuit's verdict when the prover claims the root and public data it computes itself;
/// with them, if satisfied.
fn with_own_outputs(w: &BatchWitness, ov: &Overrides) -> Option<BatchWitness> {
    let cs = ark_relations::r1cs::ConstraintSystem::new_ref();
    let computed = synthesize_with(&cs, w, ov).unwrap();
    let mut claimed = w.clone();
    claimed.new_root = computed.root?;
    claimed.pubdata = computed.pubdata?;
    is_satisfied_with(&claimed, ov).unwrap().then_some(claimed)
}

#[test]
fn every_encoding_the_circuit_accepts_replays_from_public_data() {
    // values with many encodings: zero has one per exponent (32), 1000 has four, 2 000 000
    // (canonical 200 000·10) has two; fees likewise
    let amounts = [0, 1_000, 2_000_000, 524_287];
    let fees = [0, 100, 2_000, 2_047];
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(16);
    let mut tried = [[false; 32]; 3]; // per field: exponents tried
    let mut accepted_non_canonical = Vec::new();
    for case in 0..64 {
        let mut world = World::new(4, 10_000_000);
        let before = world.state.clone();
        // the first 32 cases send zero, with each exponent in turn
        let amount = if case < 32 {
            0
        } else {
            amounts[case % amounts.len()]
        };
        let (fee_t, fee_w) = (
            fees[rng.gen_range(0..fees.len())],
            fees[rng.gen_range(0..fees.len())],
        );
        let t = world.transfer(1, 2, amount, fee_t);
        let x = world.withdraw(3, 5_000, fee_w);
        let mut b = world.builder();
        b.transfer(&t).unwrap();
        b.withdraw(&x).unwrap();
        let w = b.seal().unwrap().witness;

        // the dishonest prover's choice: an exponent that cycles through all 32 for the amount,
        // and a random encoding for each fee
        let pick = |format: FloatFormat, value: u64, rng: &mut rand_chacha::ChaCha20Rng| {
            let all = encodings(format, value);
            let wanted = case as u32 % 32;
            all.iter()
                .find(|p| p.exponent == wanted)
                .copied()
                .unwrap_or(all[rng.gen_range(0..all.len())])
        };
        let choice = [
            (AMOUNT_FORMAT, pick(AMOUNT_FORMAT, amount, &mut rng)),
            (FEE_FORMAT, pick(FEE_FORMAT, fee_t, &mut rng)),
            (FEE_FORMAT, pick(FEE_FORMAT, fee_w, &mut rng)),
        ];
        for (field, (_, p)) in choice.iter().enumerate() {
            tried[field][p.exponent as usize] = true;
        }
        let ov = Overrides {
            transfer_amount: vec![(0, choice[0].1)],
            transfer_fee: vec![(0, choice[1].1)],
            withdraw_fee: vec![(0, choice[2].1)],
            ..Default::default()
        };
        let Some(claimed) = with_own_outputs(&w, &ov) else {
            continue;
        };
        if choice.iter().any(|(f, p)| !f.is_canonical(*p)) {
            accepted_non_canonical.push(choice);
        }
        // the property: what the circuit accepts, public data alone rebuilds
        let mut replayed = before;
        replayed
            .apply_pubdata(&world.params, &claimed.pubdata)
            .unwrap_or_else(|e| panic!("case {case}: {choice:?}: proven, yet {e}"));
        assert_eq!(replayed.root(), claimed.new_root, "case {case}: {choice:?}");
    }
    assert!(
        accepted_non_canonical.is_empty(),
        "non-canonical packings accepted: {accepted_non_canonical:?}"
    );
    assert!(
        tried[0].iter().all(|t| *t),
        "every amount exponent was tried: {:?}",
        tried[0]
    );
    assert!(
        tried[1..]
            .iter()
            .all(|f| f.iter().filter(|t| **t).count() >= 3),
        "several fee exponents were tried: {tried:?}"
    );
}

#[test]
fn a_fee_in_another_packing_is_refused() {
    // 100 as 10·10 or 1·10²: the same value, another encoding
    for (field, p) in [(0, 10u64, 1u32), (0, 1, 2), (1, 10, 1), (1, 1, 2)].map(|(f, m, e)| {
        (
            f,
            Packed {
                mantissa: m,
                exponent: e,
            },
        )
    }) {
        let mut world = World::new(4, 10_000_000);
        let t = world.transfer(1, 2, 1_000, 100);
        let x = world.withdraw(3, 5_000, 100);
        let mut b = world.builder();
        b.transfer(&t).unwrap();
        b.withdraw(&x).unwrap();
        let w = b.seal().unwrap().witness;
        let canonical = Overrides {
            transfer_fee: vec![(0, FEE_FORMAT.pack(100).unwrap())],
            withdraw_fee: vec![(0, FEE_FORMAT.pack(100).unwrap())],
            ..Default::default()
        };
        assert!(with_own_outputs(&w, &canonical).is_some(), "control");
        let ov = if field == 0 {
            Overrides {
                transfer_fee: vec![(0, p)],
                ..Default::default()
            }
        } else {
            Overrides {
                withdraw_fee: vec![(0, p)],
                ..Default::default()
            }
        };
        assert_rejected(&w, &ov);
    }
}

#[test]
fn an_amount_in_another_packing_is_refused() {
    // 1000 as 1·10³ (L1 accepted it, and its record decoded to the same value)
    let mut world = World::new(4, 10_000_000);
    let t = world.transfer(1, 2, 1_000, 0);
    let mut b = world.builder();
    b.transfer(&t).unwrap();
    let w = b.seal().unwrap().witness;
    for e in 1..=3 {
        let p = Packed {
            mantissa: 1_000 / 10u64.pow(e),
            exponent: e,
        };
        let ov = Overrides {
            transfer_amount: vec![(0, p)],
            ..Default::default()
        };
        assert_rejected(&w, &ov);
    }
}
