//! The constraint matrices as a prover holds them: compressed sparse rows of `u32`s.
//!
//! arkworks' `ConstraintMatrices` keeps every row as a `Vec<(Fr, usize)>`: 40 bytes per entry
//! plus a heap block and a 24-byte header per row. Ferry's circuit has 16 to 19 entries per
//! constraint (SHA-256's bit packing, Poseidon's linear layers) but far fewer distinct
//! coefficients than entries: at depth 12 and batch 16 a cold load of the key (282 MB) and the
//! matrices (an 89 MB file) peaked at 818,608 kB in that form, and at 426,656 kB in this one.
//! Here an entry is its variable and the index of its coefficient in one table of the
//! distinct ones (8 bytes), and a row is a range of entries: the same layout
//! as the cache file (`keys/matrices.rs`), so loading checks its blocks and keeps them.

use ark_bn254::Fr;
use ark_ff::{One, Zero};
use ark_relations::r1cs::{ConstraintMatrices, Matrix};
use ark_serialize::CanonicalSerialize;
use sha3::{Digest, Keccak256};
use std::collections::HashMap;

/// One matrix: row `i` is `entries[starts[i]..starts[i + 1]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sparse {
    /// Where each row starts in `entries`, and one past the last row's end.
    pub(crate) starts: Vec<u32>,
    /// `(variable, index of the coefficient in the table)` of every row, in row order.
    pub(crate) entries: Vec<(u32, u32)>,
}

impl Sparse {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Number of non-zero entries.
    pub fn non_zero(&self) -> usize {
        self.entries.len()
    }

    /// Row `i`'s entries.
    pub fn row(&self, i: usize) -> &[(u32, u32)] {
        &self.entries[self.starts[i] as usize..self.starts[i + 1] as usize]
    }
}

/// The three R1CS matrices of a circuit and their sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrices {
    /// Instance variables, the constant `1` included.
    pub num_instance_variables: usize,
    /// Witness variables.
    pub num_witness_variables: usize,
    /// Constraints (rows of each matrix).
    pub num_constraints: usize,
    /// The distinct coefficients, in order of first appearance (row by row, A, B then C).
    pub coefficients: Vec<Fr>,
    /// A.
    pub a: Sparse,
    /// B.
    pub b: Sparse,
    /// C.
    pub c: Sparse,
}

/// Why matrices could not be built.
#[derive(Debug, thiserror::Error)]
#[error("constraint system too large for 32-bit indices: {0}")]
pub struct TooLarge(&'static str);

/// Matrices built a constraint at a time (from [`ferry_circuits::circuit::parallel::matrices`]).
#[derive(Debug)]
pub struct Builder {
    index: HashMap<Fr, u32>,
    coefficients: Vec<Fr>,
    rows: [Sparse; 3],
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// No constraints yet.
    pub fn new() -> Self {
        let empty = || Sparse {
            starts: vec![0],
            entries: Vec::new(),
        };
        Self {
            index: HashMap::new(),
            coefficients: Vec::new(),
            rows: [empty(), empty(), empty()],
        }
    }

    /// Appends one constraint: its rows of A, B and C as `(coefficient, variable)` pairs.
    pub fn push(&mut self, abc: [&[(Fr, usize)]; 3]) -> Result<(), TooLarge> {
        for (row, sparse) in abc.into_iter().zip(&mut self.rows) {
            for (c, var) in row {
                let k = match self.index.get(c) {
                    Some(&k) => k,
                    None => {
                        let k = u32::try_from(self.coefficients.len())
                            .map_err(|_| TooLarge("coefficients"))?;
                        self.coefficients.push(*c);
                        self.index.insert(*c, k);
                        k
                    }
                };
                let var = u32::try_from(*var).map_err(|_| TooLarge("variables"))?;
                sparse.entries.push((var, k));
            }
            let end = u32::try_from(sparse.entries.len()).map_err(|_| TooLarge("entries"))?;
            sparse.starts.push(end);
        }
        Ok(())
    }

    /// The matrices, with the circuit's variable counts.
    pub fn finish(self, num_instance_variables: usize, num_witness_variables: usize) -> Matrices {
        let [mut a, mut b, mut c] = self.rows;
        for s in [&mut a, &mut b, &mut c] {
            s.starts.shrink_to_fit();
            s.entries.shrink_to_fit();
        }
        Matrices {
            num_instance_variables,
            num_witness_variables,
            num_constraints: a.rows(),
            coefficients: self.coefficients,
            a,
            b,
            c,
        }
    }
}

impl Matrices {
    /// The compact form of arkworks' matrices, built a constraint at a time as [`Builder`]
    /// does (the coefficient table in that order).
    pub fn from_arkworks(m: &ConstraintMatrices<Fr>) -> Result<Self, TooLarge> {
        let mut b = Builder::new();
        for ((a, bb), c) in m.a.iter().zip(&m.b).zip(&m.c) {
            b.push([a, bb, c])?;
        }
        Ok(b.finish(m.num_instance_variables, m.num_witness_variables))
    }

    /// arkworks' form of the same matrices (for comparisons with arkworks' own algorithms).
    pub fn to_arkworks(&self) -> ConstraintMatrices<Fr> {
        let matrix = |s: &Sparse| -> Matrix<Fr> {
            (0..s.rows())
                .map(|i| self.terms(s, i).map(|(c, v)| (*c, v)).collect())
                .collect()
        };
        ConstraintMatrices {
            num_instance_variables: self.num_instance_variables,
            num_witness_variables: self.num_witness_variables,
            num_constraints: self.num_constraints,
            a_num_non_zero: self.a.non_zero(),
            b_num_non_zero: self.b.non_zero(),
            c_num_non_zero: self.c.non_zero(),
            a: matrix(&self.a),
            b: matrix(&self.b),
            c: matrix(&self.c),
        }
    }

    /// Number of variables, the constant `1` included.
    pub fn num_variables(&self) -> usize {
        self.num_instance_variables + self.num_witness_variables
    }

    /// Row `i` of `s` (one of this circuit's matrices) as `(coefficient, variable)` pairs.
    pub fn terms<'a>(
        &'a self,
        s: &'a Sparse,
        i: usize,
    ) -> impl Iterator<Item = (&'a Fr, usize)> + 'a {
        s.row(i)
            .iter()
            .map(|&(var, k)| (&self.coefficients[k as usize], var as usize))
    }

    /// Row `i` of `s` times the assignment `z`.
    pub fn eval(&self, s: &Sparse, i: usize, z: &[Fr]) -> Fr {
        let mut sum = Fr::zero();
        for (c, var) in self.terms(s, i) {
            if c.is_one() {
                sum += z[var];
            } else {
                sum += z[var] * c;
            }
        }
        sum
    }

    /// Keccak-256 of the sizes and of every row (its length, then each entry as its
    /// coefficient, uncompressed, and its variable): what names a circuit's key.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Keccak256::new();
        for n in [
            self.num_instance_variables,
            self.num_witness_variables,
            self.num_constraints,
        ] {
            h.update((n as u64).to_be_bytes());
        }
        // each coefficient serialized once, not once per entry
        let coefficients: Vec<[u8; 32]> = self
            .coefficients
            .iter()
            .map(|c| {
                let mut buf = [0u8; 32];
                c.serialize_uncompressed(&mut buf[..]).expect("32 bytes");
                buf
            })
            .collect();
        for matrix in [&self.a, &self.b, &self.c] {
            for i in 0..matrix.rows() {
                let row = matrix.row(i);
                h.update((row.len() as u64).to_be_bytes());
                for &(var, k) in row {
                    h.update(coefficients[k as usize]);
                    h.update((var as u64).to_be_bytes());
                }
            }
        }
        h.finalize().into()
    }
}
