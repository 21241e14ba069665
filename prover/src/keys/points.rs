//! The proving key's point vectors as Ferry caches them: each coordinate as its four
//! Montgomery-form limbs (little-endian `u64`), the form the field arithmetic keeps in memory.
//!
//! arkworks writes a coordinate as its canonical integer, and reading it back costs a
//! Montgomery multiplication per coordinate on one thread: at batch 16, depth 12, 0.78 s of a
//! 1.8 s cold start. Here a vector is its length (`u64`) and its points, read a chunk at a time
//! and converted on every core with no arithmetic. The point at infinity is written as zero
//! coordinates, which no point of BN254's G1 (`y² = x³ + 3`) or G2 satisfies.

use ark_bn254::{g1, g2, Fq, Fq2};
use ark_ec::short_weierstrass::Affine;
use ark_ff::{BigInt, Zero};
use rayon::prelude::*;
use std::io::{Error, Read, Result, Write};

/// Points read per chunk: the buffer is one chunk, not the whole vector.
const CHUNK: usize = 1 << 16;

/// A curve point with a fixed-size limb encoding.
pub trait Raw: Sized + Send {
    /// Bytes per point.
    const SIZE: usize;
    /// The point's coordinates' limbs, in order.
    fn coordinates(&self) -> Vec<Fq>;
    /// The point of `bytes` (exactly [`Raw::SIZE`] of them).
    fn parse(bytes: &[u8]) -> Self;
}

fn fq(bytes: &[u8]) -> Fq {
    let mut limbs = [0u64; 4];
    for (l, b) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
        *l = u64::from_le_bytes(b.try_into().expect("8-byte chunk"));
    }
    // the limbs are the Montgomery form that `write` took from a field element
    Fq::new_unchecked(BigInt(limbs))
}

// spelled by their curve configurations: through the pairing's aliases the two impls
// would look alike to the compiler
impl Raw for Affine<g1::Config> {
    const SIZE: usize = 64;
    fn coordinates(&self) -> Vec<Fq> {
        if self.infinity {
            return vec![Fq::zero(); 2];
        }
        vec![self.x, self.y]
    }
    fn parse(b: &[u8]) -> Self {
        let (x, y) = (fq(&b[..32]), fq(&b[32..]));
        if x.is_zero() && y.is_zero() {
            return Self::identity();
        }
        Self::new_unchecked(x, y)
    }
}

impl Raw for Affine<g2::Config> {
    const SIZE: usize = 128;
    fn coordinates(&self) -> Vec<Fq> {
        if self.infinity {
            return vec![Fq::zero(); 4];
        }
        vec![self.x.c0, self.x.c1, self.y.c0, self.y.c1]
    }
    fn parse(b: &[u8]) -> Self {
        let x = Fq2::new(fq(&b[..32]), fq(&b[32..64]));
        let y = Fq2::new(fq(&b[64..96]), fq(&b[96..]));
        if x.is_zero() && y.is_zero() {
            return Self::identity();
        }
        Self::new_unchecked(x, y)
    }
}

/// Writes `points`: their number, then each point's limbs.
pub fn write<P: Raw + Sync>(w: &mut dyn Write, points: &[P]) -> Result<()> {
    w.write_all(&(points.len() as u64).to_le_bytes())?;
    for chunk in points.chunks(CHUNK) {
        let bytes: Vec<u8> = chunk
            .par_iter()
            .flat_map_iter(|p| {
                p.coordinates()
                    .into_iter()
                    .flat_map(|c| c.0 .0.into_iter().flat_map(u64::to_le_bytes))
            })
            .collect();
        w.write_all(&bytes)?;
    }
    Ok(())
}

/// Reads what [`write`] wrote from a file of `size` bytes; `Err` on a short file or a
/// length that the file cannot hold (refused before allocating for it).
pub fn read<P: Raw>(r: &mut dyn Read, size: usize) -> Result<Vec<P>> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let len = usize::try_from(u64::from_le_bytes(len)).map_err(Error::other)?;
    if len.checked_mul(P::SIZE).is_none_or(|n| n > size) {
        return Err(Error::other("a vector longer than the file"));
    }
    // exactly once: growing by doubling would hold up to twice the vector
    let mut out = Vec::with_capacity(len);
    let mut buf = vec![0u8; len.min(CHUNK) * P::SIZE];
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK);
        let bytes = &mut buf[..n * P::SIZE];
        r.read_exact(bytes)?;
        out.par_extend(bytes.par_chunks_exact(P::SIZE).map(P::parse));
        left -= n;
    }
    Ok(out)
}
