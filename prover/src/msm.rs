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
//! An addition to a bucket that already has one in the current batch waits for the next
//! batch; if it collides there too (many equal digits), it goes to a projective twin of the
//! bucket, as does a point with the bucket's x (a doubling or a cancellation, which the affine
//! formula cannot take). Both are summed at the end. Bases at infinity and zero digits are
//! skipped.
//!
//! On G1 and G2 ([`msm_g1`], [`msm_g2`]) the batch's field arithmetic runs eight lanes wide
//! with AVX-512 IFMA where the CPU has it (`msm/ifma.rs`); elsewhere the scalar `batch_add`
//! runs. A batch-16 proof's five MSMs took 3.49 s that way against 5.35 s for the scalar
//! build, run back to back on the 2-core machine we measure (`docs/architecture.md`).
//!
//! [`msm`] equals arkworks' `VariableBaseMSM::msm_bigint` on the same input; the tests hold it
//! to that.

use ark_bn254::{g1::Config as G1Config, g2::Config as G2Config};
use ark_bn254::{G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::AdditiveGroup;
use ark_ff::{Field, PrimeField, Zero};
use rayon::prelude::*;

type BigIntOf<P> = <<P as ark_ec::CurveConfig>::ScalarField as PrimeField>::BigInt;

#[cfg(target_arch = "x86_64")]
mod ifma;

/// `slots[b] += p` for every `(b, p)`, in affine coordinates, with one inversion; the
/// buckets are distinct and filled, and each has an x other than its point's.
type BatchAdd<P> = fn(&mut [Slot<<P as ark_ec::CurveConfig>::BaseField>], &[(u32, Affine<P>)]);

/// `Σ scalars[i]·bases[i]` over the first `min(len)` pairs.
pub fn msm<P: SWCurveConfig>(bases: &[Affine<P>], scalars: &[BigIntOf<P>]) -> Projective<P> {
    msm_with(bases, scalars, batch_add::<P>)
}

/// [`msm`] on G1, with the vectorised additions of `msm/ifma.rs` where the CPU has AVX-512 IFMA.
pub fn msm_g1(bases: &[G1Affine], scalars: &[BigIntOf<G1Config>]) -> G1Projective {
    #[cfg(target_arch = "x86_64")]
    if ifma::available() {
        return msm_with(bases, scalars, ifma::batch_add_g1);
    }
    msm(bases, scalars)
}

/// [`msm`] on G2, vectorised like [`msm_g1`].
pub fn msm_g2(bases: &[G2Affine], scalars: &[BigIntOf<G2Config>]) -> G2Projective {
    #[cfg(target_arch = "x86_64")]
    if ifma::available() {
        return msm_with(bases, scalars, ifma::batch_add_g2);
    }
    msm(bases, scalars)
}

fn msm_with<P: SWCurveConfig>(
    bases: &[Affine<P>],
    scalars: &[BigIntOf<P>],
    add: BatchAdd<P>,
) -> Projective<P> {
    let n = bases.len().min(scalars.len());
    if n == 0 {
        return Projective::zero();
    }
    let (bases, scalars) = (&bases[..n], &scalars[..n]);
    // Booth digits need one bit above the scalar's top bit to be zero.
    let bits = P::ScalarField::MODULUS_BIT_SIZE as usize + 1;
    let c = window_bits(n, bits, rayon::current_num_threads());
    let windows = windows(bits, c);
    let sums: Vec<Projective<P>> = windows
        .par_iter()
        .map(|&(start, width)| window_sum(bases, scalars, start, width, add))
        .collect();
    let mut acc = Projective::zero();
    for (s, (_, width)) in sums.iter().zip(&windows).rev() {
        for _ in 0..*width {
            acc.double_in_place();
        }
        acc += s;
    }
    acc
}

/// `(first bit, width)` of each window: as many as windows of `c` bits need, with the bits
/// shared out evenly. With plain `c`-bit windows the top one would hold the few bits left
/// over (8 of 255 at `c = 13`): its digits would crowd into 128 buckets, and most of its
/// additions would find their bucket taken in the batch.
fn windows(bits: usize, c: usize) -> Vec<(usize, usize)> {
    let count = bits.div_ceil(c);
    let mut start = 0;
    (0..count)
        .map(|w| {
            let width = bits / count + usize::from(w < bits % count);
            start += width;
            (start - width, width)
        })
        .collect()
}

/// The window width that minimises the estimated cost of the busiest thread: each of the
/// `bits / c` windows costs an affine addition (about 6 multiplications) per point plus the
/// bucket sum (about 27 per bucket), and windows are shared out among `threads`. The
/// vectorised additions cost less per point (2.5 multiplications' worth is a guess); with
/// that figure the model still picks `c = 13` at a batch-16 proof's sizes (worked by hand,
/// not measured).
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

/// The signed digit of the `c`-bit window at bit `start`: `u + b[start−1] − 2^c·b[start+c−1]`,
/// where `u` is the window's `c` bits. The digits of adjoining windows sum (with weights
/// `2^start`) to the scalar and lie in `[−2^(c−1), 2^(c−1)]`.
fn booth_digit(limbs: &[u64], start: usize, c: usize) -> i64 {
    let start = start as isize;
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
pub(crate) struct Slot<F> {
    pub(crate) x: F,
    pub(crate) y: F,
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
    /// Additions to a bucket that already had one pending, for the next batch.
    deferred: Vec<(u32, Affine<P>)>,
    /// The pending additions the affine formula takes, for `add`.
    affine_ops: Vec<(u32, Affine<P>)>,
    add: BatchAdd<P>,
}

impl<P: SWCurveConfig> Buckets<P> {
    fn new(count: usize, batch: usize, add: BatchAdd<P>) -> Self {
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
            deferred: Vec::new(),
            affine_ops: Vec::with_capacity(batch),
            add,
        }
    }

    /// Queues `bucket[b] += p`, or keeps it for the next batch if the bucket already has an
    /// addition in this one.
    fn add(&mut self, b: usize, p: Affine<P>) {
        if self.stamp[b] == self.epoch {
            // the bucket already has an addition in this batch: it waits for the next one
            self.deferred.push((b as u32, p));
        } else {
            self.queue(b, p);
        }
    }

    /// Queues an addition that waited once; if its bucket is taken again (many points with
    /// the same digit, such as bits), it goes to the projective twin instead of waiting on.
    fn requeue(&mut self, b: usize, p: Affine<P>) {
        if self.stamp[b] == self.epoch {
            self.projective[b] += &p;
        } else {
            self.queue(b, p);
        }
    }

    /// Puts the addition in the batch. Only the small stamp array is read here; the bucket
    /// itself is read when the batch is applied, and asked of memory now so that it is in
    /// cache by then.
    fn queue(&mut self, b: usize, p: Affine<P>) {
        self.stamp[b] = self.epoch;
        self.pending.push((b as u32, p));
        prefetch(&self.affine[b]);
    }

    /// Applies the pending additions. Into an empty bucket the point is copied; one with the
    /// point's x (a doubling or a cancellation, where the affine slope formula does not
    /// apply) goes to the projective twin; the rest go to `add` together.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.affine_ops.clear();
        for (b, p) in &self.pending {
            let i = *b as usize;
            let q = &mut self.affine[i];
            if !self.filled[i] {
                self.filled[i] = true;
                *q = Slot { x: p.x, y: p.y };
            } else if q.x == p.x {
                self.projective[i] += p;
            } else {
                self.affine_ops.push((*b, *p));
            }
        }
        (self.add)(&mut self.affine, &self.affine_ops);
        self.pending.clear();
        self.epoch = self.epoch.wrapping_add(1).max(1);
        if self.epoch == 1 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
        }
        // `requeue` never defers, so the list can be handed back empty, allocation kept
        let mut waiting = std::mem::take(&mut self.deferred);
        for (b, p) in waiting.drain(..) {
            self.requeue(b as usize, p);
        }
        self.deferred = waiting;
    }

    /// Flushes until no addition is pending or waiting. An addition waits only behind a
    /// pending one, and each flush queues every waiting addition again, so nothing waits
    /// once nothing is pending.
    fn finish(&mut self) {
        while !self.pending.is_empty() {
            self.flush();
        }
        debug_assert!(self.deferred.is_empty());
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

/// The scalar [`BatchAdd`]: Montgomery's trick (3 multiplications per addition and one
/// inversion for the batch), then the slope formula.
fn batch_add<P: SWCurveConfig>(slots: &mut [Slot<P::BaseField>], ops: &[(u32, Affine<P>)]) {
    let mut prefix = Vec::with_capacity(ops.len());
    let mut acc = P::BaseField::ONE;
    for (b, p) in ops {
        prefix.push(acc);
        acc *= p.x - slots[*b as usize].x;
    }
    let mut inv = acc.inverse().expect("non-zero denominators only");
    for ((b, p), before) in ops.iter().zip(&prefix).rev() {
        let q = &mut slots[*b as usize];
        let dx = p.x - q.x;
        let dx_inv = inv * before;
        inv *= dx;
        let slope = (p.y - q.y) * dx_inv;
        let x3 = slope.square() - q.x - p.x;
        let y3 = slope * (q.x - x3) - q.y;
        q.x = x3;
        q.y = y3;
    }
}

/// Loads `x` now, ahead of its use, so that it is in cache by then. The value is dropped and
/// nothing after depends on it, so the load overlaps later work: a prefetch without
/// `unsafe` (which the workspace denies outside the IFMA modules).
#[inline(always)]
fn prefetch<T: Copy>(x: &T) {
    std::hint::black_box(*x);
}

/// `Σ digit(scalar_i)·bases[i]` for the `c`-bit window at bit `start`.
fn window_sum<P: SWCurveConfig>(
    bases: &[Affine<P>],
    scalars: &[BigIntOf<P>],
    start: usize,
    c: usize,
    add: BatchAdd<P>,
) -> Projective<P> {
    let count = 1usize << (c - 1);
    // a quarter of the buckets: an inversion per 1,024 additions at c = 13, and an addition
    // finds its bucket taken about one time in eight (it then waits a batch)
    let batch = (count / 4).clamp(16, 4096);
    let mut buckets = Buckets::<P>::new(count, batch, add);
    for (base, scalar) in bases.iter().zip(scalars) {
        if base.infinity {
            continue;
        }
        let d = booth_digit(scalar.as_ref(), start, c);
        if d == 0 {
            continue;
        }
        let (b, p) = if d > 0 {
            (d as usize - 1, *base)
        } else {
            ((-d) as usize - 1, -*base)
        };
        buckets.add(b, p);
        if buckets.pending.len() >= batch {
            buckets.flush();
        }
    }
    buckets.finish();
    buckets.weighted_sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Fr;
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

    /// [`check`], and [`msm_g1`] (vectorised where the CPU allows) against the same.
    fn check_g1(bases: &[G1Affine], s: &[Fr]) {
        check(bases, s);
        let big: Vec<_> = s.iter().map(|x| x.into_bigint()).collect();
        let theirs = G1Projective::msm_bigint(bases, &big);
        assert_eq!(msm_g1(bases, &big), theirs, "msm_g1, n = {}", s.len());
    }

    #[test]
    fn booth_digits_sum_to_the_scalar() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for c in [3, 8, 13, 16] {
            let ws = windows(255, c);
            assert_eq!(ws.len(), 255usize.div_ceil(c));
            assert!(ws.iter().all(|&(_, width)| width == c || width + 1 == c));
            assert_eq!(ws.last().map(|(s, width)| s + width), Some(255));
            for s in scalars(50, &mut rng) {
                let limbs = s.into_bigint();
                let mut acc = Fr::from(0u64);
                for &(start, width) in ws.iter().rev() {
                    let d = booth_digit(limbs.as_ref(), start, width);
                    assert!(d.unsigned_abs() <= 1 << (width - 1));
                    acc = acc * Fr::from(1u64 << width) + Fr::from(d);
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
            check_g1(&bases, &scalars(n, &mut rng));
        }
        let bases: Vec<G2Affine> = (0..300)
            .map(|_| G2Projective::rand(&mut rng).into_affine())
            .collect();
        let s = scalars(300, &mut rng);
        check(&bases, &s);
        let big: Vec<_> = s.iter().map(|x| x.into_bigint()).collect();
        assert_eq!(msm_g2(&bases, &big), G2Projective::msm_bigint(&bases, &big));
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
        check_g1(&bases, &s);
        // a sum that is exactly zero
        check_g1(&[p, p], &[Fr::from(1u64), -Fr::from(1u64)]);
    }
}
