//! The constraint matrices as bytes, for the cache of synthesized circuits: the three counts
//! of variables and constraints (little-endian `u64`), then per matrix (A, B, C) its number of
//! rows and each row as its length and its entries. The coefficients come first, each
//! distinct one once (as arkworks writes a field element uncompressed, 32 bytes), and an
//! entry is its variable and its coefficient's index, both little-endian `u32`, like row
//! lengths: a circuit has millions of entries but few distinct coefficients (at batch 16,
//! depth 12, the file is 70 MB, against 334 MB with every coefficient written out).

use ark_bn254::Fr;
use ark_relations::r1cs::{ConstraintMatrices, Matrix};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
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

fn put32(w: &mut dyn Write, n: usize) -> Result<()> {
    let n = u32::try_from(n).map_err(Error::other)?;
    w.write_all(&n.to_le_bytes())
}

fn get32(r: &mut dyn Read) -> Result<usize> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b) as usize)
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
    for matrix in [&m.a, &m.b, &m.c] {
        put(w, matrix.len())?;
        for row in matrix {
            put32(w, row.len())?;
            for (c, var) in row {
                put32(w, *var)?;
                put32(w, index[c])?;
            }
        }
    }
    Ok(())
}

/// Reads what [`write`] wrote; `Err` on anything else (a variable or coefficient index out
/// of range, a short file).
pub fn read(r: &mut dyn Read) -> Result<ConstraintMatrices<Fr>> {
    // millions of 4-byte reads: buffered here, the checksum below sees large ones
    let r = &mut std::io::BufReader::with_capacity(1 << 16, r);
    let (instance, witness, constraints) = (get(r)?, get(r)?, get(r)?);
    let variables = instance + witness;
    let distinct = get(r)?;
    let table = (0..distinct)
        .map(|_| Fr::deserialize_uncompressed(&mut *r).map_err(Error::other))
        .collect::<Result<Vec<_>>>()?;
    let read_matrix = |r: &mut dyn Read| -> Result<(Matrix<Fr>, usize)> {
        let rows = get(r)?;
        if rows != constraints {
            return Err(Error::other("a matrix with another number of rows"));
        }
        let (mut matrix, mut non_zero) = (Vec::with_capacity(rows), 0);
        for _ in 0..rows {
            let len = get32(r)?;
            let mut row = Vec::with_capacity(len.min(variables));
            for _ in 0..len {
                let var = get32(r)?;
                let c = table.get(get32(r)?);
                match c {
                    Some(c) if var < variables => row.push((*c, var)),
                    _ => return Err(Error::other("a variable or coefficient out of range")),
                }
            }
            non_zero += len;
            matrix.push(row);
        }
        Ok((matrix, non_zero))
    };
    let (a, a_num_non_zero) = read_matrix(r)?;
    let (b, b_num_non_zero) = read_matrix(r)?;
    let (c, c_num_non_zero) = read_matrix(r)?;
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
