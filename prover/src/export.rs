//! snarkjs's JSON formats for a verifying key, a proof and public inputs, so that
//! `snarkjs groth16 verify vk.json public.json proof.json` checks Ferry's proofs.
//!
//! Points are affine decimal coordinates with a trailing projective `1`; a G2 coordinate is
//! `[c0, c1]` of its Fq2 element, as snarkjs writes them.

use crate::{Curve, Proof};
use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ff::PrimeField;
use ark_groth16::VerifyingKey;
use num_bigint::BigUint;
use serde_json::{json, Value};

fn fq(x: &Fq) -> String {
    BigUint::from(x.into_bigint()).to_string()
}

fn fq2(x: &Fq2) -> Value {
    json!([fq(&x.c0), fq(&x.c1)])
}

fn g1(p: &G1Affine) -> Value {
    json!([fq(&p.x), fq(&p.y), "1"])
}

fn g2(p: &G2Affine) -> Value {
    json!([fq2(&p.x), fq2(&p.y), ["1", "0"]])
}

/// The verifying key as snarkjs's `verification_key.json`.
pub fn vk_json(vk: &VerifyingKey<Curve>) -> Value {
    json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.gamma_abc_g1.len() - 1,
        "vk_alpha_1": g1(&vk.alpha_g1),
        "vk_beta_2": g2(&vk.beta_g2),
        "vk_gamma_2": g2(&vk.gamma_g2),
        "vk_delta_2": g2(&vk.delta_g2),
        "IC": vk.gamma_abc_g1.iter().map(g1).collect::<Vec<_>>(),
    })
}

/// A proof as snarkjs's `proof.json`.
pub fn proof_json(proof: &Proof) -> Value {
    json!({
        "pi_a": g1(&proof.a),
        "pi_b": g2(&proof.b),
        "pi_c": g1(&proof.c),
        "protocol": "groth16",
        "curve": "bn128",
    })
}

fn parse_fq(v: &Value) -> Option<Fq> {
    let n: BigUint = v.as_str()?.parse().ok()?;
    (n < BigUint::from(Fq::MODULUS)).then(|| Fq::from(n))
}

fn parse_fq2(v: &Value) -> Option<Fq2> {
    Some(Fq2::new(parse_fq(v.get(0)?)?, parse_fq(v.get(1)?)?))
}

fn parse_g1(v: &Value) -> Option<G1Affine> {
    (v.get(2)?.as_str()? == "1").then_some(())?;
    let p = G1Affine::new_unchecked(parse_fq(v.get(0)?)?, parse_fq(v.get(1)?)?);
    (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()).then_some(p)
}

fn parse_g2(v: &Value) -> Option<G2Affine> {
    (v.get(2)? == &json!(["1", "0"])).then_some(())?;
    let p = G2Affine::new_unchecked(parse_fq2(v.get(0)?)?, parse_fq2(v.get(1)?)?);
    (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()).then_some(p)
}

/// Reads a snarkjs `proof.json` back (what [`proof_json`] writes); `None` unless every point
/// is canonical, on its curve and in its subgroup.
pub fn proof_from_json(v: &Value) -> Option<Proof> {
    Some(Proof {
        a: parse_g1(v.get("pi_a")?)?,
        b: parse_g2(v.get("pi_b")?)?,
        c: parse_g1(v.get("pi_c")?)?,
    })
}

/// Public inputs as snarkjs's `public.json`.
pub fn public_json(inputs: &[Fr]) -> Value {
    Value::Array(
        inputs
            .iter()
            .map(|x| Value::String(BigUint::from(x.into_bigint()).to_string()))
            .collect(),
    )
}
