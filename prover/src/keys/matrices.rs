//! The constraint matrices as bytes, for the cache of synthesized circuits: the three counts
//! of variables and constraints (little-endian `u64`), the coefficients, then per matrix (A,
//! B, C) its number of rows and of entries (`u64`), every row's length (`u32`), and every
//! entry as its variable and its coefficient's index (`u32` each). The coefficients are each
//! distinct one once (as arkworks writes a field element uncompressed, 32 bytes): a circuit
//! has millions of entries but few distinct coefficients (at batch 16, depth 12, the file is
//! 84 MB, against 334 MB with every coefficient written out). Lengths and entries are blocks,
//! read whole and split into rows on every core (0.55 s on one thread at batch 16 when each
//! number was a read of its own).

use ark_bn254::Fr;
use ark_relations::r1cs::{ConstraintMatrices, Matrix};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rayon::prelude::*;
use std::collections::HashMap;
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
pub fn write(w: &mut dyn Write, m: &ConstraintMatrices<Fr>) -> Result<()> {
    for n in [
        m.num_instance_variables,
        m.num_witness_variables,
        m.num_constraints,
    ] {
        put(w, n)?;
    }
    // the distinct coefficients once (±1, powers of two, Poseidon's constants...), then
    // every entry as its variable and its coefficient's index
    let mut index: HashMap<Fr, usize> = HashMap::new();
    let mut table = Vec::new();
    for row in [&m.a, &m.b, &m.c].into_iter().flatten() {
        for (c, _) in row {
            index.entry(*c).or_insert_with(|| {
                table.push(*c);
                table.len() - 1
            });
        }
    }
    put(w, table.len())?;
    for c in &table {
        c.serialize_uncompressed(&mut *w).map_err(Error::other)?;
    }
    let mut block = Vec::new();
    for matrix in [&m.a, &m.b, &m.c] {
        put(w, matrix.len())?;
        put(w, matrix.iter().map(Vec::len).sum())?;
        block.clear();
        for row in matrix {
            block.extend(u32le(row.len())?);
        }
        for (c, var) in matrix.iter().flatten() {
            block.extend(u32le(*var)?);
            block.extend(u32le(index[c])?);
        }
        w.write_all(&block)?;
    }
    Ok(())
}

fn u32le(n: usize) -> Result<[u8; 4]> {
    Ok(u32::try_from(n).map_err(Error::other)?.to_le_bytes())
}

fn u32_at(b: &[u8], i: usize) -> usize {
    u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().expect("4 bytes")) as usize
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
pub fn read(r: &mut dyn Read, size: usize) -> Result<ConstraintMatrices<Fr>> {
    let (instance, witness, constraints) = (get(r)?, get(r)?, get(r)?);
    let variables = instance + witness;
    let distinct = get(r)?;
    if distinct > size / 32 {
        return Err(Error::other("more coefficients than the file holds"));
    }
    let table = (0..distinct)
        .map(|_| Fr::deserialize_uncompressed(&mut *r).map_err(Error::other))
        .collect::<Result<Vec<_>>>()?;
    let mut read_matrix = || -> Result<(Matrix<Fr>, usize)> {
        let (rows, entries) = (get(r)?, get(r)?);
        if rows != constraints {
            return Err(Error::other("a matrix with another number of rows"));
        }
        let lens = block(r, rows.checked_mul(4), size)?;
        let body = block(r, entries.checked_mul(8), size)?;
        let mut starts = Vec::with_capacity(rows + 1);
        starts.push(0usize);
        for i in 0..rows {
            starts.push(starts[i] + u32_at(&lens, i));
        }
        if starts[rows] != entries {
            return Err(Error::other("row lengths do not add up to the entries"));
        }
        let matrix = (0..rows)
            .into_par_iter()
            .map(|i| {
                // sized exactly: a row collected through `Result` would grow by doubling
                let mut row = Vec::with_capacity(starts[i + 1] - starts[i]);
                for e in starts[i]..starts[i + 1] {
                    let (var, c) = (u32_at(&body, 2 * e), u32_at(&body, 2 * e + 1));
                    match table.get(c) {
                        Some(c) if var < variables => row.push((*c, var)),
                        _ => return Err(Error::other("a variable or coefficient out of range")),
                    }
                }
                Ok(row)
            })
            .collect::<Result<Matrix<Fr>>>()?;
        Ok((matrix, entries))
    };
    let (a, a_num_non_zero) = read_matrix()?;
    let (b, b_num_non_zero) = read_matrix()?;
    let (c, c_num_non_zero) = read_matrix()?;
    Ok(ConstraintMatrices {
        num_instance_variables: instance,
        num_witness_variables: witness,
        num_constraints: constraints,
        a_num_non_zero,
        b_num_non_zero,
        c_num_non_zero,
        a,
        b,
        c,
    })
}
