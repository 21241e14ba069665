//! The Merkle path gadget, twin of [`super::MerklePath::root`].
//!
//! Each level places the running node among its three siblings with selectors built from two
//! index bits (7 constraints) and hashes the four children (Poseidon(4): 300 constraints).
//! Selectors are computed once per path and shared by the "before" and "after" roots of an update.

use super::MerklePath;
use crate::field::Fr;
use crate::poseidon::constraints::poseidon;
use ark_r1cs_std::{alloc::AllocVar, boolean::Boolean, fields::fp::FpVar, fields::FieldVar};
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};

/// One level's siblings and position selectors `e[k] = (position == k)`.
#[derive(Debug, Clone)]
pub struct LevelVar {
    siblings: [FpVar<Fr>; 3],
    e: [FpVar<Fr>; 4],
}

/// A Merkle path in the circuit, bound to the index bits it was built with.
#[derive(Debug, Clone)]
pub struct PathVar {
    levels: Vec<LevelVar>,
}

impl PathVar {
    /// Allocates `path` as witness; `index_bits` are the leaf index's little-endian bits
    /// (two per level, at least `2·depth` of them).
    pub fn new_witness(
        cs: ConstraintSystemRef<Fr>,
        path: &MerklePath,
        index_bits: &[Boolean<Fr>],
    ) -> Result<Self, SynthesisError> {
        assert!(index_bits.len() >= 2 * path.siblings.len());
        let levels = path
            .siblings
            .iter()
            .enumerate()
            .map(|(level, sib)| {
                let siblings = [0, 1, 2].map(|i| FpVar::new_witness(cs.clone(), || Ok(sib[i])));
                let [s0, s1, s2] = siblings;
                let b0 = &index_bits[2 * level];
                let b1 = &index_bits[2 * level + 1];
                let both = b0 & b1;
                let (b0, b1, e3) = (
                    FpVar::from(b0.clone()),
                    FpVar::from(b1.clone()),
                    FpVar::from(both),
                );
                let e1 = &b0 - &e3;
                let e2 = &b1 - &e3;
                let e0 = FpVar::one() - &b0 - &b1 + &e3;
                Ok(LevelVar {
                    siblings: [s0?, s1?, s2?],
                    e: [e0, e1, e2, e3],
                })
            })
            .collect::<Result<_, SynthesisError>>()?;
        Ok(Self { levels })
    }

    /// The root reached from `leaf` along this path.
    pub fn root_from_path(&self, leaf: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
        root_from_path(leaf, self)
    }
}

/// The root reached from `leaf` along `path`; twin of [`super::MerklePath::root`].
pub fn root_from_path(leaf: &FpVar<Fr>, path: &PathVar) -> Result<FpVar<Fr>, SynthesisError> {
    let mut cur = leaf.clone();
    for l in &path.levels {
        let [s0, s1, s2] = &l.siblings;
        let [e0, e1, e2, e3] = &l.e;
        let c0 = s0 + e0 * (&cur - s0);
        let c1 = s1 + e0 * (s0 - s1) + e1 * (&cur - s1);
        let c2 = s1 + e2 * (&cur - s1) + e3 * (s2 - s1);
        let c3 = s2 + e3 * (&cur - s2);
        cur = poseidon(&[c0, c1, c2, c3])?;
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::AccountTree;
    use ark_r1cs_std::{eq::EqGadget, R1CSVar};
    use ark_relations::r1cs::ConstraintSystem;

    fn bits(cs: &ConstraintSystemRef<Fr>, index: u32, n: usize) -> Vec<Boolean<Fr>> {
        (0..n)
            .map(|i| Boolean::new_witness(cs.clone(), || Ok((index >> i) & 1 == 1)).unwrap())
            .collect()
    }

    #[test]
    fn gadget_agrees_with_native_at_every_position() {
        let mut t = AccountTree::new(3);
        for i in [0u32, 1, 6, 27, 63] {
            t.set(i, Fr::from(u64::from(i) + 100));
        }
        for index in 0..64u32 {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let b = bits(&cs, index, 6);
            let p = PathVar::new_witness(cs.clone(), &t.path(index), &b).unwrap();
            let leaf = FpVar::new_witness(cs.clone(), || Ok(t.leaf(index))).unwrap();
            let root = p.root_from_path(&leaf).unwrap();
            assert_eq!(root.value().unwrap(), t.root());
            let expected = FpVar::new_input(cs.clone(), || Ok(t.root())).unwrap();
            root.enforce_equal(&expected).unwrap();
            assert!(cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn wrong_index_is_unsatisfiable() {
        let mut t = AccountTree::new(2);
        t.set(5, Fr::from(9u64));
        t.set(6, Fr::from(8u64));
        let cs = ConstraintSystem::<Fr>::new_ref();
        let b = bits(&cs, 6, 4); // path of 5 used with the index of 6
        let p = PathVar::new_witness(cs.clone(), &t.path(5), &b).unwrap();
        let leaf = FpVar::new_witness(cs.clone(), || Ok(t.leaf(5))).unwrap();
        let expected = FpVar::new_input(cs.clone(), || Ok(t.root())).unwrap();
        p.root_from_path(&leaf)
            .unwrap()
            .enforce_equal(&expected)
            .unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }
}
