//! Building blocks shared by the slot gadgets: bits, range checks, packed floats, accounts.

use crate::field::Fr;
use crate::ops::amount::{FloatFormat, Packed};
use crate::ops::Account;
use crate::poseidon::constraints::poseidon;
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{fp::FpVar, FieldVar},
    R1CSVar,
};
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};

/// Bits of an account id in public data (3 bytes).
pub const ID_BITS: usize = 24;

/// Allocates the `n` little-endian bits of `value` as witnesses.
pub fn alloc_bits(
    cs: &ConstraintSystemRef<Fr>,
    value: u64,
    n: usize,
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    (0..n)
        .map(|i| Boolean::new_witness(cs.clone(), || Ok(i < 64 && (value >> i) & 1 == 1)))
        .collect()
}

/// Allocates the 24 bits of an account id; bits above the tree's `2·depth` are the constant 0,
/// so an id outside the tree cannot be expressed.
pub fn alloc_id_bits(
    cs: &ConstraintSystemRef<Fr>,
    id: u32,
    depth: usize,
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let mut bits = alloc_bits(cs, u64::from(id), 2 * depth)?;
    bits.resize(ID_BITS, Boolean::FALSE);
    Ok(bits)
}

/// Allocates the bits of an integer of any size (little-endian).
pub fn alloc_big_bits(
    cs: &ConstraintSystemRef<Fr>,
    value: &num_bigint::BigUint,
    n: usize,
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    (0..n)
        .map(|i| Boolean::new_witness(cs.clone(), || Ok(value.bit(i as u64))))
        .collect()
}

/// The number whose little-endian bits these are (a linear combination, no constraint).
pub fn num(bits: &[Boolean<Fr>]) -> FpVar<Fr> {
    Boolean::le_bits_to_fp(bits).expect("linear combination")
}

/// Enforces `0 <= x < 2^n` by decomposing `x` into `n` witness bits (n + 1 constraints);
/// returns the bits. A value out of range leaves the system unsatisfied.
pub fn range_check(x: &FpVar<Fr>, n: usize) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let cs = x.cs();
    let value: num_bigint::BigUint = x.value().unwrap_or_default().into();
    let bits = alloc_big_bits(&cs, &value, n)?;
    num(&bits).enforce_equal(x)?;
    Ok(bits)
}

/// Big-endian order of little-endian bits (how they appear in public data).
pub fn be(bits: &[Boolean<Fr>]) -> Vec<Boolean<Fr>> {
    bits.iter().rev().cloned().collect()
}

/// The first byte of a record: the op code when `enabled`, else 0.
pub fn opcode_bits(code: u8, enabled: &Boolean<Fr>) -> Vec<Boolean<Fr>> {
    (0..8)
        .rev()
        .map(|i| {
            if (code >> i) & 1 == 1 {
                enabled.clone()
            } else {
                Boolean::FALSE
            }
        })
        .collect()
}

/// Enforces `x = 0` unless `enabled` (1 constraint): a noop's record carries no data.
pub fn zero_unless(x: &FpVar<Fr>, enabled: &Boolean<Fr>) -> Result<(), SynthesisError> {
    let off = FpVar::one() - FpVar::from(enabled.clone());
    x.mul_equals(&off, &FpVar::zero())
}

/// Enforces `x ≠ 0` when `cond` (1 constraint: `x · inverse = cond`). A witness with `x = 0`
/// leaves the system unsatisfied rather than failing synthesis, so that a dishonest prover's
/// witness can be checked like any other.
pub fn nonzero_if(x: &FpVar<Fr>, cond: &Boolean<Fr>) -> Result<(), SynthesisError> {
    use ark_ff::Field;
    let inverse = FpVar::new_witness(x.cs(), || {
        let inverse = x.value()?.inverse().unwrap_or_default();
        Ok(if cond.value()? {
            inverse
        } else {
            Fr::from(0u64)
        })
    })?;
    x.mul_equals(&inverse, &FpVar::from(cond.clone()))
}

/// A packed float in the circuit: its bits (big-endian, exponent first, as in public data) and value.
#[derive(Debug, Clone)]
pub struct PackedVar {
    /// `exponent ‖ mantissa`, most significant bit first.
    pub be_bits: Vec<Boolean<Fr>>,
    /// `mantissa · 10^exponent`.
    pub value: FpVar<Fr>,
}

/// Allocates a packed float in its canonical form and computes its value.
///
/// Canonical is the smallest exponent (docs/protocol.md): an exponent above 0 is allowed only
/// when the mantissa times ten would not fit, `10·m ≥ 2^k`. Without it one value had up to 32
/// encodings (zero with any exponent, 1000 as 1·10³), and public data that L1 verified could
/// hold records that the native decoder refuses.
pub fn alloc_packed(
    cs: &ConstraintSystemRef<Fr>,
    format: FloatFormat,
    p: Packed,
) -> Result<PackedVar, SynthesisError> {
    let m = alloc_bits(cs, p.mantissa, format.mantissa_bits as usize)?;
    let e = alloc_bits(cs, u64::from(p.exponent), format.exponent_bits as usize)?;
    // 10^e = Π (1 + e_i·(10^(2^i) − 1))
    let mut pow = FpVar::<Fr>::one();
    for (i, bit) in e.iter().enumerate() {
        let step = Fr::from(10u64).pow([1u64 << i]) - Fr::from(1u64);
        let factor = FpVar::one() + FpVar::from(bit.clone()) * step;
        pow = if pow.is_constant() {
            factor
        } else {
            pow * factor
        };
    }
    let value = num(&m) * pow;
    // e = 0, or 10·m − 2^k in [0, 9·2^k) (a negative difference wraps past 2^(k+4))
    let k = format.mantissa_bits as usize;
    let exponent_used = Boolean::kary_or(&e)?;
    let gap = num(&m) * Fr::from(10u64) - Fr::from(1u64 << k);
    range_check(&(FpVar::from(exponent_used) * gap), k + 4)?;
    let mut be_bits = be(&e);
    be_bits.extend(be(&m));
    Ok(PackedVar { be_bits, value })
}

use ark_ff::Field;

/// An account leaf's fields in the circuit.
#[derive(Debug, Clone)]
pub struct AccountVar {
    /// Public key x.
    pub pk_x: FpVar<Fr>,
    /// Public key y.
    pub pk_y: FpVar<Fr>,
    /// Balance (< 2^64 in every leaf).
    pub balance: FpVar<Fr>,
    /// Nonce (< 2^32 in every leaf).
    pub nonce: FpVar<Fr>,
    /// Owner L1 address (< 2^160).
    pub owner: FpVar<Fr>,
}

impl AccountVar {
    /// Allocates an account as witness; an empty slot allocates the fields of a harmless dummy
    /// (key = the identity point, which is on the curve).
    pub fn new_witness(
        cs: &ConstraintSystemRef<Fr>,
        account: Option<&Account>,
    ) -> Result<Self, SynthesisError> {
        let (x, y, b, n, o) = match account {
            Some(a) => (
                a.pubkey.x,
                a.pubkey.y,
                Fr::from(a.balance),
                Fr::from(u64::from(a.nonce)),
                a.owner.to_fr(),
            ),
            None => (
                Fr::from(0u64),
                Fr::from(1u64),
                Fr::from(0u64),
                Fr::from(0u64),
                Fr::from(0u64),
            ),
        };
        let w = |v: Fr| FpVar::new_witness(cs.clone(), || Ok(v));
        Ok(Self {
            pk_x: w(x)?,
            pk_y: w(y)?,
            balance: w(b)?,
            nonce: w(n)?,
            owner: w(o)?,
        })
    }

    /// The leaf: `Poseidon(pk_x, pk_y, balance, nonce, owner)`; twin of [`Account::leaf`].
    pub fn leaf(&self) -> Result<FpVar<Fr>, SynthesisError> {
        poseidon(&[
            self.pk_x.clone(),
            self.pk_y.clone(),
            self.balance.clone(),
            self.nonce.clone(),
            self.owner.clone(),
        ])
    }
}

/// What every slot gadget returns.
#[derive(Debug, Clone)]
pub struct SlotOutput {
    /// The root after the slot.
    pub root: FpVar<Fr>,
    /// The fee it pays (0 for deposits and noops).
    pub fee: FpVar<Fr>,
    /// Its public-data record, bit by bit, most significant first.
    pub pubdata: Vec<Boolean<Fr>>,
}

/// `168700·x² + y² − 1 − 168696·x²·y²`: zero exactly when `(x, y)` is on Baby Jubjub (three
/// constraints).
pub fn off_curve(x: &FpVar<Fr>, y: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    let x2 = x.square()?;
    let y2 = y.square()?;
    let x2y2 = &x2 * &y2;
    Ok(x2 * Fr::from(168700u64) + y2 - Fr::from(1u64) - x2y2 * Fr::from(168696u64))
}
