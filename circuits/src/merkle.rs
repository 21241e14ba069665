//! The account tree: a dense Merkle tree of arity 4 whose nodes are `Poseidon(c0, c1, c2, c3)`.
//!
//! Leaves are indexed by account id; level 0 holds the leaves and level `depth` the root.
//! At level `k` the position of id's ancestor among its siblings is `(id >> 2k) & 3`.
//! Storage is sparse: only nodes that differ from an empty subtree are kept, and the root of an
//! empty subtree of every height is precomputed. An empty slot's leaf is the field element 0.
//!
//! Hashing waits. The sequencer's writes reach the tree a batch at a time through
//! [`AccountTree::apply`], which returns each write's path just before it (the circuit's
//! witness) and hashes level by level, so that the hashes of a level go eight at a time
//! ([`poseidon_many`]). A batch of 16 transfers writes 33 leaves, and their paths share the
//! upper levels (ids are handed out in order, so accounts crowd the tree's low corner):
//! `apply` hashes each node value that something reads once, and no other.
//!
//! Single writes ([`AccountTree::set`]: genesis, rolling a settled batch back) are lazy: they
//! mark their ancestors stale, and a stale node is hashed when the root is flushed
//! ([`AccountTree::flush`]) or the next `apply` starts. The read-only [`AccountTree::root`]
//! and [`AccountTree::path`] are always right too: they hash stale nodes without keeping the
//! result.
//!
//! The gadget twin is [`constraints::root_from_path`].

#[cfg(feature = "r1cs")]
pub mod constraints;

use crate::field::Fr;
use crate::poseidon::{poseidon, poseidon_many};
use std::collections::{HashMap, HashSet};

/// Children per node.
pub const ARITY: usize = 4;
/// The deepest tree Ferry supports: account ids are 24 bits (3 bytes) in public data.
pub const MAX_DEPTH: usize = 12;

/// The siblings of a leaf's ancestors, bottom-up: at each level the three other children, in order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MerklePath {
    /// `siblings[k]` are the other three children at level `k`, left to right.
    #[serde(with = "crate::serde_fr::triples")]
    pub siblings: Vec<[Fr; 3]>,
}

/// The position of `index`'s ancestor at `level` among its siblings (0..4).
pub fn position(index: u32, level: usize) -> usize {
    ((index >> (2 * level)) & 3) as usize
}

/// Places `cur` at `pos` among the three `siblings`.
pub fn children(cur: Fr, pos: usize, siblings: &[Fr; 3]) -> [Fr; 4] {
    let mut out = [Fr::from(0u64); 4];
    let mut s = siblings.iter();
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = if i == pos {
            cur
        } else {
            *s.next().expect("3 siblings")
        };
    }
    out
}

/// Per level, bottom-up: the indices of the three siblings of `index`'s ancestor.
fn siblings_of(index: u32, depth: usize) -> impl Iterator<Item = (usize, [u32; 3])> {
    (0..depth).map(move |level| {
        let me = index >> (2 * level);
        let first = me & !3;
        let mut others = (first..first + 4).filter(move |j| *j != me);
        (level, [0; 3].map(|_| others.next().expect("3 siblings")))
    })
}

impl MerklePath {
    /// The root reached from `leaf` at `index` along this path.
    pub fn root(&self, leaf: Fr, index: u32) -> Fr {
        self.siblings
            .iter()
            .enumerate()
            .fold(leaf, |cur, (level, sib)| {
                poseidon(&children(cur, position(index, level), sib))
            })
    }

    /// A path of the given depth whose siblings are all zero (fills unused circuit slots).
    pub fn zero(depth: usize) -> Self {
        Self {
            siblings: vec![[Fr::from(0u64); 3]; depth],
        }
    }
}

/// Roots of empty subtrees: `empty[k]` is the root of an empty subtree of height `k`.
pub fn empty_roots(depth: usize) -> Vec<Fr> {
    let mut out = vec![Fr::from(0u64)];
    for k in 0..depth {
        let e = out[k];
        out.push(poseidon(&[e, e, e, e]));
    }
    out
}

/// One of the values a node takes during [`AccountTree::apply`]: its value once write `after`
/// is done.
#[derive(Clone, Debug)]
struct Version {
    after: usize,
    /// Whether something reads it, so that it must be hashed.
    needed: bool,
    value: Fr,
}

/// The values nodes take during one [`AccountTree::apply`]: per level, per node, one per
/// write below it, in write order.
#[derive(Debug)]
struct History(Vec<HashMap<u32, Vec<Version>>>);

impl History {
    /// Every node's versions, leaves with their values, the rest to be hashed.
    fn new(writes: &[(u32, Fr)], depth: usize) -> Self {
        let mut levels = vec![HashMap::<u32, Vec<Version>>::new(); depth + 1];
        for (k, &(index, leaf)) in writes.iter().enumerate() {
            for (level, nodes) in levels.iter_mut().enumerate() {
                nodes
                    .entry(index >> (2 * level))
                    .or_default()
                    .push(Version {
                        after: k,
                        needed: false,
                        value: leaf, // above the leaves, a placeholder until hashed
                    });
            }
        }
        Self(levels)
    }

    /// Node `j`'s last version among those set by writes before `before`.
    fn latest(&mut self, level: usize, j: u32, before: usize) -> Option<&mut Version> {
        let vs = self.0[level].get_mut(&j)?;
        let n = vs.partition_point(|v| v.after < before);
        n.checked_sub(1).map(|i| &mut vs[i])
    }

    /// Marks node `j`'s value once the writes before `before` are done as read (a value
    /// stored before them all needs nothing).
    fn need(&mut self, level: usize, j: u32, before: usize) {
        if let Some(v) = self.latest(level, j, before) {
            v.needed = true;
        }
    }

    /// The read versions of a level: (node, write after which it holds).
    fn needed(&self, level: usize) -> Vec<(u32, usize)> {
        self.0[level]
            .iter()
            .flat_map(|(&j, vs)| vs.iter().filter(|v| v.needed).map(move |v| (j, v.after)))
            .collect()
    }

    /// Node `j`'s value once the writes before `before` are done, if one of them set it.
    fn value_before(&self, level: usize, j: u32, before: usize) -> Option<Fr> {
        let vs = self.0[level].get(&j)?;
        vs[..vs.partition_point(|v| v.after < before)]
            .last()
            .map(|v| v.value)
    }
}

/// A sparse arity-4 Poseidon Merkle tree of fixed depth.
#[derive(Clone, Debug)]
pub struct AccountTree {
    depth: usize,
    empty: Vec<Fr>,
    /// Non-empty nodes, keyed by (level, index at that level).
    nodes: HashMap<(u8, u32), Fr>,
    /// Nodes whose stored value predates a write below them. Every ancestor of a stale
    /// node is stale too.
    stale: HashSet<(u8, u32)>,
}

impl AccountTree {
    /// An empty tree of `depth` levels (1..=12), holding `4^depth` leaves.
    pub fn new(depth: usize) -> Self {
        assert!(
            (1..=MAX_DEPTH).contains(&depth),
            "tree depth must be 1..={MAX_DEPTH}, got {depth}"
        );
        Self {
            depth,
            empty: empty_roots(depth),
            nodes: HashMap::new(),
            stale: HashSet::new(),
        }
    }

    /// Number of levels.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Number of leaves: `4^depth`.
    pub fn capacity(&self) -> u64 {
        1u64 << (2 * self.depth)
    }

    fn node(&self, level: usize, index: u32) -> Fr {
        self.nodes
            .get(&(level as u8, index))
            .copied()
            .unwrap_or(self.empty[level])
    }

    fn is_stale(&self, level: usize, index: u32) -> bool {
        level > 0 && self.stale.contains(&(level as u8, index))
    }

    /// A node's current value, hashing stale nodes below it without keeping the result.
    fn value(&self, level: usize, index: u32) -> Fr {
        if self.is_stale(level, index) {
            let first = index << 2;
            poseidon(&[0, 1, 2, 3].map(|j| self.value(level - 1, first + j)))
        } else {
            self.node(level, index)
        }
    }

    /// A node's current value, hashing and storing stale nodes below it.
    fn refresh(&mut self, level: usize, index: u32) -> Fr {
        if level > 0 && self.stale.remove(&(level as u8, index)) {
            let first = index << 2;
            let kids = [0, 1, 2, 3].map(|j| self.refresh(level - 1, first + j));
            let v = poseidon(&kids);
            self.put(level, index, v);
            v
        } else {
            self.node(level, index)
        }
    }

    /// The root.
    pub fn root(&self) -> Fr {
        self.value(self.depth, 0)
    }

    /// Hashes every stale node, so that later reads hash nothing.
    pub fn flush(&mut self) -> Fr {
        self.refresh(self.depth, 0)
    }

    /// The leaf at `index` (0 if empty).
    pub fn leaf(&self, index: u32) -> Fr {
        self.node(0, index)
    }

    /// The Merkle path of `index` (stale siblings are hashed, not kept).
    pub fn path(&self, index: u32) -> MerklePath {
        debug_assert!(u64::from(index) < self.capacity());
        MerklePath {
            siblings: siblings_of(index, self.depth)
                .map(|(level, js)| js.map(|j| self.value(level, j)))
                .collect(),
        }
    }

    /// Applies `writes` (leaf index, new leaf) in order and returns, if `with_paths`, each
    /// write's path as it was just before that write: what the circuit needs to replay them.
    ///
    /// No node is hashed twice and none is hashed until everything below it is known, so the
    /// hashes go level by level, eight at a time where the CPU allows ([`poseidon_many`]).
    /// A node takes one value per write below it; the values hashed are those something reads:
    /// each node's last one (on the way to the root) and, with paths, a sibling's value at the
    /// time of each later write that passes it, with whatever values those are made of.
    pub fn apply(&mut self, writes: &[(u32, Fr)], with_paths: bool) -> Vec<MerklePath> {
        if writes.is_empty() {
            return Vec::new();
        }
        debug_assert!(writes.iter().all(|(i, _)| u64::from(*i) < self.capacity()));
        // the stored values are then the values before the first write
        self.flush();
        let depth = self.depth;
        let mut h = History::new(writes, depth);
        h.need(depth, 0, writes.len());
        if with_paths {
            for (k, &(index, _)) in writes.iter().enumerate() {
                for (level, js) in siblings_of(index, depth) {
                    js.into_iter().for_each(|j| h.need(level, j, k));
                }
            }
        }
        // a value read needs its children's values at the same time
        for level in (1..=depth).rev() {
            for (j, after) in h.needed(level) {
                (0..4).for_each(|c| h.need(level - 1, 4 * j + c, after + 1));
            }
        }
        let value = |h: &History, level: usize, j: u32, before: usize| {
            h.value_before(level, j, before)
                .unwrap_or_else(|| self.node(level, j))
        };
        for level in 1..=depth {
            let wanted = h.needed(level);
            let inputs: Vec<[Fr; 4]> = wanted
                .iter()
                .map(|&(j, after)| [0, 1, 2, 3].map(|c| value(&h, level - 1, 4 * j + c, after + 1)))
                .collect();
            for ((j, after), hash) in wanted.into_iter().zip(poseidon_many(&inputs)) {
                h.latest(level, j, after + 1).expect("a wanted value").value = hash;
            }
        }
        let paths = writes
            .iter()
            .enumerate()
            .filter(|_| with_paths)
            .map(|(k, &(index, _))| MerklePath {
                siblings: siblings_of(index, depth)
                    .map(|(level, js)| js.map(|j| value(&h, level, j, k)))
                    .collect(),
            })
            .collect();
        for (level, nodes) in h.0.iter().enumerate() {
            for (&j, vs) in nodes {
                let last = vs.last().expect("a node has a value per write below it");
                self.put(level, j, last.value);
            }
        }
        paths
    }

    /// Sets the leaf at `index` and marks its ancestors stale.
    pub fn set(&mut self, index: u32, leaf: Fr) {
        debug_assert!(u64::from(index) < self.capacity());
        self.put(0, index, leaf);
        let mut idx = index;
        for level in 1..=self.depth {
            idx >>= 2;
            if !self.stale.insert((level as u8, idx)) {
                break; // its ancestors are stale already
            }
        }
    }

    fn put(&mut self, level: usize, index: u32, value: Fr) {
        if value == self.empty[level] {
            self.nodes.remove(&(level as u8, index));
        } else {
            self.nodes.insert((level as u8, index), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every level of the dense tree over `leaves`, hashed bottom-up.
    fn dense_levels(leaves: &[Fr], depth: usize) -> Vec<Vec<Fr>> {
        let mut levels = vec![leaves.to_vec()];
        for k in 0..depth {
            let next = levels[k].chunks(ARITY).map(poseidon).collect();
            levels.push(next);
        }
        levels
    }

    fn dense_path(leaves: &[Fr], index: u32, depth: usize) -> MerklePath {
        let levels = dense_levels(leaves, depth);
        MerklePath {
            siblings: siblings_of(index, depth)
                .map(|(level, js)| js.map(|j| levels[level][j as usize]))
                .collect(),
        }
    }

    #[test]
    fn empty_tree_root_is_precomputed_empty_root() {
        let t = AccountTree::new(3);
        assert_eq!(t.root(), empty_roots(3)[3]);
        assert_eq!(t.path(5).root(Fr::from(0u64), 5), t.root());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn paths_lead_to_the_root(writes in prop::collection::vec((0u32..256, 1u64..1000), 1..12), probe in 0u32..256) {
            let mut t = AccountTree::new(4);
            for (i, v) in &writes {
                t.set(*i, Fr::from(*v));
            }
            for (i, _) in &writes {
                prop_assert_eq!(t.path(*i).root(t.leaf(*i), *i), t.root());
            }
            prop_assert_eq!(t.path(probe).root(t.leaf(probe), probe), t.root());
            // a wrong leaf does not reach the root
            prop_assert_ne!(t.path(probe).root(t.leaf(probe) + Fr::from(1u64), probe), t.root());
        }

        /// Lazy hashing against the tree hashed from scratch: whatever the order of writes
        /// and reads, every path and root is the dense tree's.
        #[test]
        fn lazy_reads_equal_a_tree_hashed_from_scratch(
            ops in prop::collection::vec((0u8..3, 0u32..64, 0u64..4), 1..40),
        ) {
            let depth = 3;
            let mut t = AccountTree::new(depth);
            let mut leaves = vec![Fr::from(0u64); 64];
            for (op, i, v) in ops {
                if op < 2 {
                    t.set(i, Fr::from(v));
                    leaves[i as usize] = Fr::from(v);
                } else {
                    prop_assert_eq!(t.flush(), dense_levels(&leaves, depth)[depth][0]);
                }
                prop_assert_eq!(t.path(i), dense_path(&leaves, i, depth));
                prop_assert_eq!(t.root(), dense_levels(&leaves, depth)[depth][0]);
            }
        }

        /// Groups of writes applied at once against the same writes one by one on a tree
        /// hashed from scratch: each write's path before it, and the root after each group.
        /// Groups of up to 20 writes on 64 leaves repeat indices and share siblings, and
        /// leave some lanes of `poseidon_many` empty.
        #[test]
        fn applied_groups_equal_writes_one_by_one(
            groups in prop::collection::vec(
                prop::collection::vec((0u32..64, 0u64..4), 0..20), 1..5),
            lazy in prop::collection::vec(0u32..64, 0..3),
            with_paths in any::<bool>(),
        ) {
            let depth = 3;
            let mut t = AccountTree::new(depth);
            let mut leaves = vec![Fr::from(0u64); 64];
            // a stale node left by a lazy write must not confuse the first group
            for i in lazy {
                t.set(i, Fr::from(9u64));
                leaves[i as usize] = Fr::from(9u64);
            }
            for group in groups {
                let writes: Vec<(u32, Fr)> = group.iter().map(|(i, v)| (*i, Fr::from(*v))).collect();
                let paths = t.apply(&writes, with_paths);
                prop_assert_eq!(paths.len(), if with_paths { writes.len() } else { 0 });
                for (k, (i, leaf)) in writes.iter().enumerate() {
                    if with_paths {
                        prop_assert_eq!(&paths[k], &dense_path(&leaves, *i, depth));
                    }
                    leaves[*i as usize] = *leaf;
                }
                let root = dense_levels(&leaves, depth)[depth][0];
                prop_assert_eq!(t.root(), root);
                prop_assert_eq!(t.flush(), root);
                for (i, _) in &writes {
                    prop_assert_eq!(t.path(*i), dense_path(&leaves, *i, depth));
                }
            }
        }

        #[test]
        fn clearing_restores_the_empty_root(i in 0u32..256) {
            let mut t = AccountTree::new(4);
            t.set(i, Fr::from(7u64));
            t.set(i, Fr::from(0u64));
            prop_assert_eq!(t.root(), empty_roots(4)[4]);
        }
    }
}
