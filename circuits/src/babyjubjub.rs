//! Baby Jubjub in circomlib's form: `168700·x² + y² = 1 + 168696·x²·y²` over the BN254 scalar field.
//!
//! arkworks' `ark-ed-on-bn254` ships the same curve rescaled to `a = 1`; circomlib (and so every
//! wallet built on circomlibjs) uses `a = 168700`, so Ferry declares that form here and keeps
//! arkworks' field types: the base field is [`Fr`], the prime-order subgroup's scalar field is [`Fs`].

use crate::field::Fr;
use ark_ec::{
    models::CurveConfig,
    twisted_edwards::{Affine, MontCurveConfig, Projective, TECurveConfig},
    AffineRepr, CurveGroup,
};
use ark_ff::{AdditiveGroup, MontFp, PrimeField};
use num_bigint::BigUint;
use std::sync::OnceLock;

/// The scalar field of Baby Jubjub's prime-order subgroup (order `l`, about 2^251).
pub type Fs = ark_ed_on_bn254::Fr;

/// circomlib's Baby Jubjub parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BabyJubjub;

/// A point on Baby Jubjub (affine).
pub type Point = Affine<BabyJubjub>;
/// A point on Baby Jubjub (projective, for arithmetic).
pub type PointProjective = Projective<BabyJubjub>;

impl CurveConfig for BabyJubjub {
    type BaseField = Fr;
    type ScalarField = Fs;
    const COFACTOR: &'static [u64] = &[8];
    const COFACTOR_INV: Fs =
        MontFp!("2394026564107420727433200628387514462817212225638746351800188703329891451411");
}

impl TECurveConfig for BabyJubjub {
    const COEFF_A: Fr = MontFp!("168700");
    const COEFF_D: Fr = MontFp!("168696");
    /// circomlib's `Base8`, the generator of the prime-order subgroup.
    const GENERATOR: Point = Point::new_unchecked(BASE8_X, BASE8_Y);
    type MontCurveConfig = BabyJubjub;
}

impl MontCurveConfig for BabyJubjub {
    /// `2·(a + d) / (a − d)`.
    const COEFF_A: Fr = MontFp!("168698");
    /// `4 / (a − d)`.
    const COEFF_B: Fr = MontFp!("1");
    type TECurveConfig = BabyJubjub;
}

/// x of circomlib's `Base8`.
pub const BASE8_X: Fr =
    MontFp!("5299619240641551281634865583518297030282874472190772894086521144482721001553");
/// y of circomlib's `Base8`.
pub const BASE8_Y: Fr =
    MontFp!("16950150798460657717958625567821834550301663161624707787222815936182638968203");

/// circomlib's `Base8`.
pub fn base8() -> Point {
    BabyJubjub::GENERATOR
}

/// The order `l` of the prime-order subgroup, as an integer.
pub fn subgroup_order() -> BigUint {
    Fs::MODULUS.into()
}

/// `k·P` for an integer `k` of any size (as circomlibjs `mulPointEscalar`).
pub fn mul(p: &Point, k: &BigUint) -> Point {
    let limbs = k.to_u64_digits();
    p.mul_bigint(limbs).into_affine()
}

/// Bits per window of the scalar multiplications below: 63 windows cover `l`'s 251 bits.
const WINDOW: usize = 4;
const WINDOWS: usize = Fs::MODULUS_BIT_SIZE.div_ceil(WINDOW as u32) as usize;

/// The `w`-th 4-bit digit of `k`, least significant first.
fn digit(k: &<Fs as PrimeField>::BigInt, w: usize) -> usize {
    let bit = w * WINDOW;
    ((k.0[bit / 64] >> (bit % 64)) & ((1 << WINDOW) - 1)) as usize
}

/// `d·16^w·Base8` for every window `w` and digit `d` in 1..16, computed once.
fn base8_table() -> &'static [Point] {
    static TABLE: OnceLock<Vec<Point>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all = Vec::with_capacity(WINDOWS * 15);
        let mut step = PointProjective::from(base8()); // 16^w·Base8
        for _ in 0..WINDOWS {
            let mut acc = step;
            for _ in 1..16 {
                all.push(acc);
                acc += step;
            }
            step = acc; // 16·16^w·Base8
        }
        PointProjective::normalize_batch(&all)
    })
}

/// `k·Base8`, one mixed addition per non-zero 4-bit digit of `k` from a precomputed table.
pub fn mul_base8(k: &Fs) -> PointProjective {
    let table = base8_table();
    let k = k.into_bigint();
    let mut acc = PointProjective::default();
    for w in 0..WINDOWS {
        let d = digit(&k, w);
        if d != 0 {
            acc += table[w * 15 + d - 1];
        }
    }
    acc
}

/// `16^w·P` for every window `w`: what [`mul_powers`] needs of a point used again and again
/// (a key that signs often). 63 points, 4 KiB.
#[derive(Clone, Debug)]
pub struct Powers(Vec<Point>);

impl Powers {
    /// The powers of `p`: 248 doublings, once.
    pub fn new(p: &PointProjective) -> Self {
        let mut all = vec![*p];
        for _ in 1..WINDOWS {
            let mut next = *all.last().expect("one point at least");
            for _ in 0..WINDOW {
                next.double_in_place();
            }
            all.push(next);
        }
        Self(PointProjective::normalize_batch(&all))
    }
}

/// `k·P` from `P`'s [`Powers`], without doublings: each window's power goes to the bucket of
/// its digit, then a running sum weighs bucket `d` by `d`. At most 63 + 30 additions, against
/// 252 doublings and 63 additions with 4-bit windows and no precomputation.
pub fn mul_powers(powers: &Powers, k: &Fs) -> PointProjective {
    let k = k.into_bigint();
    let mut buckets = [PointProjective::default(); 15];
    for (w, p) in powers.0.iter().enumerate() {
        let d = digit(&k, w);
        if d != 0 {
            buckets[d - 1] += p;
        }
    }
    let (mut running, mut sum) = (PointProjective::default(), PointProjective::default());
    for b in buckets.iter().rev() {
        running += b;
        sum += running;
    }
    sum
}

/// `(x, y)` as a point if it satisfies the curve equation (no subgroup check).
pub fn point_on_curve(x: Fr, y: Fr) -> Option<Point> {
    let p = Point::new_unchecked(x, y);
    p.is_on_curve().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base8_is_on_curve_and_has_prime_order() {
        let b = base8();
        assert!(b.is_on_curve());
        assert!(b.is_in_correct_subgroup_assuming_on_curve());
        assert!(mul(&b, &subgroup_order()).is_zero());
        assert!(!mul(&b, &(subgroup_order() - 1u32)).is_zero());
    }

    #[test]
    fn table_multiplications_equal_double_and_add() {
        use ark_ff::UniformRand;
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let p = mul(&base8(), &BigUint::from(123_456_789u64));
        let powers = Powers::new(&p.into_group());
        let edge = [
            Fs::from(0u64),
            Fs::from(1u64),
            Fs::from(15u64),
            Fs::from(16u64),
            -Fs::from(1u64),
        ];
        for k in edge.into_iter().chain((0..20).map(|_| Fs::rand(&mut rng))) {
            let big: BigUint = k.into_bigint().into();
            assert_eq!(mul_base8(&k).into_affine(), mul(&base8(), &big), "k = {k}");
            assert_eq!(
                mul_powers(&powers, &k).into_affine(),
                mul(&p, &big),
                "k = {k}"
            );
        }
    }

    #[test]
    fn off_curve_points_are_refused() {
        assert!(point_on_curve(Fr::from(1u64), Fr::from(1u64)).is_none());
        assert!(point_on_curve(Fr::from(0u64), Fr::from(1u64)).is_some());
    }
}
