//! Multi-scalar multiplication for the proving key's bases: Pippenger's bucket method with
//! signed (Booth) digits, and buckets kept in affine coordinates so that a whole batch of
//! bucket additions shares one field inversion.
//!
//! Why not arkworks' `VariableBaseMSM`: it adds every point to a projective bucket (a mixed
//! addition, 7 multiplications and 4 squarings). Here an addition into an affine bucket costs
//! 5 multiplications and 1 squaring: the slope's denominator is inverted together with those of
//! the other additions of its batch (Montgomery's trick, 3 multiplications per element and one
//! inversion per batch). Proving is almost all MSM, so this is where the time goes
//! (`docs/architecture.md`, "The prover").
//!
//! Cases the affine formula cannot take (a bucket already written in the current batch, or a
//! point with the bucket's x: a doubling or a cancellation) go to a projective twin of the
//! bucket; both are summed at the end. Bases at infinity and zero digits are skipped.
//!
//! [`msm`] equals arkworks' `VariableBaseMSM::msm_bigint` on the same input; the tests hold it
//! to that.

use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::AdditiveGroup;
use ark_ff::{Field, PrimeField, Zero};
use rayon::prelude::*;

type BigIntOf<P> = <<P as ark_ec::CurveConfig>::ScalarField as PrimeField>::BigInt;

/// `Σ scalars[i]·bases[i]` over the first `min(len)` pairs.
pub fn msm<P: SWCurveConfig>(bases: &[Affine<P>], scalars: &[BigIntOf<P>]) -> Projective<P> {
    let n = bases.len().min(scalars.len());
    if n == 0 {
        return Projective::zero();
    }
    let (bases, scalars) = (&bases[..n], &scalars[..n]);
    // Booth digits need one bit above the scalar's top bit to be zero.
    let bits = P::ScalarField::MODULUS_BIT_SIZE as usize + 1;
    let c = window_bits(n, bits, rayon::current_num_threads());
    let windows = bits.div_ceil(c);
    let sums: Vec<Projective<P>> = (0..windows)
        .into_par_iter()
        .map(|w| window_sum(bases, scalars, w, c))
        .collect();
    let mut acc = Projective::zero();
    for s in sums.iter().rev() {
        for _ in 0..c {
            acc.double_in_place();
        }
        acc += s;
    }
    acc
}

/// The window width that minimises the estimated cost of the busiest thread: each of the
/// `bits / c` windows costs an affine addition (about 6 multiplications) per point plus the
/// bucket sum (about 27 per bucket), and windows are shared out among `threads`.
fn window_bits(n: usize, bits: usize, threads: usize) -> usize {
    let cost = |c: usize| {
        let windows = bits.div_ceil(c);
        let per_window = 6 * n + 27 * (1usize << (c - 1));
        windows.div_ceil(threads.max(1)) * per_window
    };
    (4..=18).min_by_key(|&c| cost(c)).unwrap_or(8)
}

/// Bits `[start, start + len)` of a little-endian limb array, zero past its end and at
/// negative positions (`len < 64`).
fn bits_at(limbs: &[u64], start: isize, len: usize) -> u64 {
    if start < 0 {
        let shift = start.unsigned_abs();
        return if shift >= len {
            0
        } else {
            bits_at(limbs, 0, len - shift) << shift
        };
    }
    let (limb, bit) = (start as usize / 64, start as usize % 64);
    let Some(&lo) = limbs.get(limb) else {
        return 0;
    };
    let mut out = lo >> bit;
    if bit + len > 64 {
        if let Some(&hi) = limbs.get(limb + 1) {
            out |= hi << (64 - bit);
        }
    }
    out & ((1u64 << len) - 1)
}

/// The signed digit of window `w`: `u + b[wc−1] − 2^c·b[wc+c−1]`, where `u` is the window's
/// `c` bits. The digits sum (with weights `2^(wc)`) to the scalar and lie in `[−2^(c−1), 2^(c−1)]`.
fn booth_digit(limbs: &[u64], w: usize, c: usize) -> i64 {
    let start = (w * c) as isize;
    // the window's c bits and the bit below it, in one read
    let raw = bits_at(limbs, start - 1, c + 1);
    let below = (raw & 1) as i64;
    let u = (raw >> 1) as i64;
    let top = (u >> (c - 1)) & 1;
    u + below - (top << c)
}

/// A bucket's affine value, alone on its cache line (two for G2). An `Affine` is 72 bytes
/// (its infinity flag comes after x and y), so most buckets straddled two lines and an
/// addition touched both; the flag now lives in `Buckets::filled`.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot<F> {
    x: F,
    y: F,
}

/// Buckets of one window: affine values updated in batches, projective twins for the rest.
struct Buckets<P: SWCurveConfig> {
    affine: Vec<Slot<P::BaseField>>,
    /// Whether `affine[b]` holds a point (it is the identity otherwise).
    filled: Vec<bool>,
    projective: Vec<Projective<P>>,
    /// `stamp[b] == epoch` while bucket `b` has an addition pending in the current batch.
    stamp: Vec<u32>,
    epoch: u32,
    pending: Vec<(u32, Affine<P>)>,
    prefix: Vec<P::BaseField>,
    dx: Vec<P::BaseField>,
}

impl<P: SWCurveConfig> Buckets<P> {
    fn new(count: usize, batch: usize) -> Self {
        Self {
            affine: vec![
                Slot {
                    x: P::BaseField::ZERO,
                    y: P::BaseField::ZERO,
                };
                count
            ],
            filled: vec![false; count],
            projective: vec![Projective::zero(); count],
            stamp: vec![0; count],
            epoch: 1,
            pending: Vec::with_capacity(batch),
            prefix: Vec::with_capacity(batch),
            dx: Vec::with_capacity(batch),
        }
    }

    /// Queues `bucket[b] += p`. Only the small stamp array is read here; the bucket itself is
    /// read when the batch is applied, and asked of memory now so that it is in cache by then.
    fn add(&mut self, b: usize, p: Affine<P>) {
        if self.stamp[b] == self.epoch {
            self.projective[b] += &p;
        } else {
            self.stamp[b] = self.epoch;
            self.pending.push((b as u32, p));
            prefetch(&self.affine[b]);
        }
    }

    /// Applies the pending additions with one inversion (Montgomery's batch trick). Into an
    /// empty bucket the point is copied; one with the point's x (a doubling or a cancellation,
    /// where the affine slope formula does not apply) goes to the projective twin.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.prefix.clear();
        self.dx.clear();
        let mut acc = P::BaseField::ONE;
        for (b, p) in &self.pending {
            let b = *b as usize;
            let q = &mut self.affine[b];
            let dx = if !self.filled[b] {
                self.filled[b] = true;
                *q = Slot { x: p.x, y: p.y };
                P::BaseField::ZERO
            } else if q.x == p.x {
                self.projective[b] += p;
                P::BaseField::ZERO
            } else {
                p.x - q.x
            };
            self.prefix.push(acc);
            self.dx.push(dx);
            if !dx.is_zero() {
                acc *= dx;
            }
        }
        let mut inv = acc.inverse().expect("non-zero denominators only");
        let ops = self.pending.iter().zip(&self.prefix).zip(&self.dx).rev();
        for (((b, p), before), dx) in ops {
            if dx.is_zero() {
                // copied into an empty bucket, or left to the projective twin
                continue;
            }
            let b = *b as usize;
            let q = &mut self.affine[b];
            let dx_inv = inv * before;
            inv *= dx;
            let slope = (p.y - q.y) * dx_inv;
            let x3 = slope.square() - q.x - p.x;
            let y3 = slope * (q.x - x3) - q.y;
            q.x = x3;
            q.y = y3;
        }
        self.pending.clear();
        self.epoch = self.epoch.wrapping_add(1).max(1);
        if self.epoch == 1 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
        }
    }

    /// `Σ (i+1)·bucket[i]` by running sums from the top bucket down.
    fn weighted_sum(self) -> Projective<P> {
        let mut running = Projective::<P>::zero();
        let mut total = Projective::<P>::zero();
        let buckets = self.affine.iter().zip(&self.filled).zip(&self.projective);
        for ((a, filled), p) in buckets.rev() {
            if *filled {
                running += &Affine::<P>::new_unchecked(a.x, a.y);
            }
            if !p.is_zero() {
                running += p;
            }
            total += &running;
        }
        total
    }
}

/// Loads `x` now, ahead of its use, so that it is in cache by then. The value is dropped and
/// nothing after depends on it, so the load overlaps later work: a prefetch without
/// `unsafe` (which this workspace forbids).
#[inline(always)]
fn prefetch<T: Copy>(x: &T) {
    std::hint::black_box(*x);
}

/// `Σ digit_w(scalar_i)·bases[i]` for window `w`.
fn window_sum<P: SWCurveConfig>(
    bases: &[Affine<P>],
    scalars: &[BigIntOf<P>],
    w: usize,
    c: usize,
) -> Projective<P> {
    let count = 1usize << (c - 1);
    let batch = (count / 16).clamp(16, 1024);
    let mut buckets = Buckets::<P>::new(count, batch);
    for (base, scalar) in bases.iter().zip(scalars) {
        if base.infinity {
            continue;
        }
        let d = booth_digit(scalar.as_ref(), w, c);
        if d == 0 {
            continue;
        }
        let (b, p) = if d > 0 {
            (d as usize - 1, *base)
        } else {
            ((-d) as usize - 1, -*base)
        };
        buckets.add(b, p);
        if buckets.pending.len() == batch {
            buckets.flush();
        }
    }
    buckets.flush();
    buckets.weighted_sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
    use ark_ec::{CurveGroup, VariableBaseMSM};
    use ark_std::UniformRand;
    use rand::{Rng, SeedableRng};

    fn scalars(n: usize, rng: &mut impl Rng) -> Vec<Fr> {
        (0..n)
            .map(|i| match i % 7 {
                0 => Fr::from(0u64),
                1 => Fr::from(1u64),
                2 => -Fr::from(1u64),
                3 => Fr::from(rng.gen::<u64>()),
                _ => Fr::rand(rng),
            })
            .collect()
    }

    fn check<P: SWCurveConfig<ScalarField = Fr>>(bases: &[Affine<P>], s: &[Fr]) {
        let big: Vec<_> = s.iter().map(|x| x.into_bigint()).collect();
        let ours = msm(bases, &big);
        let theirs = Projective::<P>::msm_bigint(bases, &big);
        assert_eq!(ours.into_affine(), theirs.into_affine(), "n = {}", s.len());
    }

    #[test]
    fn booth_digits_sum_to_the_scalar() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for c in [3, 8, 13, 16] {
            for s in scalars(50, &mut rng) {
                let limbs = s.into_bigint();
                let windows = 255usize.div_ceil(c);
                let mut acc = Fr::from(0u64);
                for w in (0..windows).rev() {
                    let d = booth_digit(limbs.as_ref(), w, c);
                    assert!(d.unsigned_abs() <= 1 << (c - 1));
                    acc = acc * Fr::from(1u64 << c) + Fr::from(d);
                }
                assert_eq!(acc, s, "c = {c}");
            }
        }
    }

    #[test]
    fn equals_arkworks_on_random_input() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        for n in [0, 1, 2, 31, 200, 3000] {
            let bases: Vec<G1Affine> = (0..n)
                .map(|_| G1Projective::rand(&mut rng).into_affine())
                .collect();
            check(&bases, &scalars(n, &mut rng));
        }
        let bases: Vec<G2Affine> = (0..300)
            .map(|_| G2Projective::rand(&mut rng).into_affine())
            .collect();
        check(&bases, &scalars(300, &mut rng));
    }

    #[test]
    fn doublings_cancellations_and_infinity() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let p = G1Projective::rand(&mut rng).into_affine();
        // the same point many times (doublings in a bucket), its negation (cancellations),
        // and bases at infinity
        let mut bases = vec![p; 500];
        bases.extend(vec![-p; 500]);
        bases.extend(vec![G1Affine::identity(); 100]);
        let mut s = vec![Fr::from(5u64); 700];
        s.extend(scalars(400, &mut rng));
        check(&bases, &s);
        // a sum that is exactly zero
        check(&[p, p], &[Fr::from(1u64), -Fr::from(1u64)]);
    }
}
