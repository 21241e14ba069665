//! The constraint matrices as bytes, for the cache of synthesized circuits: the three counts
//! of variables and constraints (little-endian `u64`), the coefficients, then per matrix (A,
//! B, C) its number of rows and of entries (`u64`), every row's length (`u32`), and every
//! entry as its variable and its coefficient's index (`u32` each). The coefficients are each
//! distinct one once (as arkworks writes a field element uncompressed, 32 bytes): a circuit
//! has millions of entries but few distinct coefficients (at batch 16, depth 12, the file is
//! 84 MB, against 334 MB with every coefficient written out). Lengths and entries are blocks,
//! read whole and checked on every core (0.55 s on one thread at batch 16 when each number was
//! a read of its own); in memory the entries stay in this form ([`crate::r1cs`]).

use crate::r1cs::{Matrices, Sparse};
use ark_bn254::Fr;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rayon::prelude::*;
use std::io::{Error, Read, Result, Write};

fn put(w: &mut dyn Write, n: usize) -> Result<()> {
    w.write_all(&(n as u64).to_le_bytes())
}

fn get(r: &mut dyn Read) -> Result<usize> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    usize::try_from(u64::from_le_bytes(b)).map_err(Error::other)
}

/// Writes `m`.
pub fn write(w: &mut dyn Write, m: &Matrices) -> Result<()> {
    for n in [
        m.num_instance_variables,
        m.num_witness_variables,
        m.num_constraints,
    ] {
        put(w, n)?;
    }
    put(w, m.coefficients.len())?;
    for c in &m.coefficients {
        c.serialize_uncompressed(&mut *w).map_err(Error::other)?;
    }
    let mut block = Vec::new();
    for matrix in [&m.a, &m.b, &m.c] {
        put(w, matrix.rows())?;
        put(w, matrix.non_zero())?;
        block.clear();
        for pair in matrix.starts.windows(2) {
            block.extend((pair[1] - pair[0]).to_le_bytes());
        }
        for (var, k) in &matrix.entries {
            block.extend(var.to_le_bytes());
            block.extend(k.to_le_bytes());
        }
        w.write_all(&block)?;
    }
    Ok(())
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().expect("4 bytes"))
}

/// Reads `n` bytes of a file of `size` bytes, refusing a length the file cannot hold.
fn block(r: &mut dyn Read, n: Option<usize>, size: usize) -> Result<Vec<u8>> {
    let n = n
        .filter(|&n| n <= size)
        .ok_or_else(|| Error::other("a block longer than the file"))?;
    let mut out = vec![0u8; n];
    r.read_exact(&mut out)?;
    Ok(out)
}

/// Reads what [`write`] wrote; `Err` on anything else (a variable or coefficient index out
/// of range, row lengths that do not add up, a short file).
/// `size` is the file's, which bounds every length read from it.
pub fn read(r: &mut dyn Read, size: usize) -> Result<Matrices> {
    let (instance, witness, constraints) = (get(r)?, get(r)?, get(r)?);
    let variables = instance + witness;
    let distinct = get(r)?;
    if distinct > size / 32 {
        return Err(Error::other("more coefficients than the file holds"));
    }
    let coefficients = (0..distinct)
        .map(|_| Fr::deserialize_uncompressed(&mut *r).map_err(Error::other))
        .collect::<Result<Vec<_>>>()?;
    let mut read_matrix = || -> Result<Sparse> {
        let (rows, entries) = (get(r)?, get(r)?);
        if rows != constraints {
            return Err(Error::other("a matrix with another number of rows"));
        }
        let lens = block(r, rows.checked_mul(4), size)?;
        let body = block(r, entries.checked_mul(8), size)?;
        let mut starts = Vec::with_capacity(rows + 1);
        starts.push(0u32);
        let mut end = 0u64;
        for i in 0..rows {
            end += u64::from(u32_at(&lens, i));
            starts.push(u32::try_from(end).map_err(Error::other)?);
        }
        if end != entries as u64 {
            return Err(Error::other("row lengths do not add up to the entries"));
        }
        let entries: Vec<(u32, u32)> = body
            .par_chunks_exact(8)
            .map(|e| (u32_at(e, 0), u32_at(e, 1)))
            .collect();
        if entries
            .par_iter()
            .any(|&(var, k)| var as usize >= variables || k as usize >= distinct)
        {
            return Err(Error::other("a variable or coefficient out of range"));
        }
        Ok(Sparse { starts, entries })
    };
    let (a, b, c) = (read_matrix()?, read_matrix()?, read_matrix()?);
    Ok(Matrices {
        num_instance_variables: instance,
        num_witness_variables: witness,
        num_constraints: constraints,
        coefficients,
        a,
        b,
        c,
    })
}
