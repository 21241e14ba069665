//! Packed amounts: a decimal float (`mantissa · 10^exponent`) that keeps transfer public data small.
//!
//! Transfer amounts take 3 bytes (5-bit exponent, 19-bit mantissa), fees 2 bytes (5-bit exponent,
//! 11-bit mantissa); the exponent sits in the high bits, and bytes are big-endian. Only amounts
//! that are exactly representable can be packed; the packing is canonical (smallest exponent).

use serde::{Deserialize, Serialize};

/// A packed-float format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloatFormat {
    /// Bits of mantissa.
    pub mantissa_bits: u32,
    /// Bits of exponent (base 10).
    pub exponent_bits: u32,
}

/// Transfer amounts: 24 bits.
pub const AMOUNT_FORMAT: FloatFormat = FloatFormat {
    mantissa_bits: 19,
    exponent_bits: 5,
};
/// Fees: 16 bits.
pub const FEE_FORMAT: FloatFormat = FloatFormat {
    mantissa_bits: 11,
    exponent_bits: 5,
};

/// A value as mantissa and decimal exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packed {
    /// Mantissa, below `2^mantissa_bits`.
    pub mantissa: u64,
    /// Exponent, below `2^exponent_bits`.
    pub exponent: u32,
}

impl FloatFormat {
    /// Total bits.
    pub fn bits(&self) -> u32 {
        self.mantissa_bits + self.exponent_bits
    }

    /// The canonical packing of `value`, or `None` if it is not exactly representable.
    pub fn pack(&self, value: u64) -> Option<Packed> {
        let max_m = 1u64 << self.mantissa_bits;
        let mut m = value;
        let mut e = 0u32;
        while m >= max_m {
            if !m.is_multiple_of(10) || e + 1 >= (1 << self.exponent_bits) {
                return None;
            }
            m /= 10;
            e += 1;
        }
        Some(Packed {
            mantissa: m,
            exponent: e,
        })
    }

    /// Whether `p` is the canonical packing of its value: exponent 0, or a mantissa that ten
    /// times over would not fit (the circuit enforces the same).
    pub fn is_canonical(&self, p: Packed) -> bool {
        p.exponent == 0 || p.mantissa * 10 >= 1 << self.mantissa_bits
    }

    /// The value of a canonical packing, or `None` if it overflows `u64`, a field is out of
    /// range, or the packing is not canonical.
    pub fn unpack(&self, p: Packed) -> Option<u64> {
        if p.mantissa >= 1 << self.mantissa_bits
            || p.exponent >= 1 << self.exponent_bits
            || !self.is_canonical(p)
        {
            return None;
        }
        10u64.checked_pow(p.exponent)?.checked_mul(p.mantissa)
    }

    /// The packed bits as an integer: exponent high, mantissa low.
    pub fn to_bits(&self, p: Packed) -> u64 {
        (u64::from(p.exponent) << self.mantissa_bits) | p.mantissa
    }

    /// Splits an integer of `bits()` bits into exponent and mantissa.
    pub fn from_bits(&self, v: u64) -> Packed {
        Packed {
            mantissa: v & ((1 << self.mantissa_bits) - 1),
            exponent: (v >> self.mantissa_bits) as u32,
        }
    }

    /// The packable values nearest `value`: the largest at or below it and the smallest at or
    /// above it (`None` above the largest packable value). Both are `value` when it packs.
    pub fn nearest(&self, value: u64) -> (u64, Option<u64>) {
        let max_m = 1u64 << self.mantissa_bits;
        let mut unit = 1u64;
        while value / unit >= max_m {
            unit *= 10;
        }
        let below = value / unit * unit;
        if below == value {
            return (value, Some(value));
        }
        // one more unit, or, when that mantissa no longer fits, the next power's multiple
        let above = if value / unit + 1 < max_m {
            (value / unit + 1).checked_mul(unit)
        } else {
            unit.checked_mul(10)
                .and_then(|u| value.div_ceil(u).checked_mul(u))
        };
        (below, above.filter(|a| self.pack(*a).is_some()))
    }

    /// "the nearest amounts that can are a and b", for an error message about `value`.
    pub fn hint(&self, value: u64) -> String {
        match self.nearest(value) {
            (below, Some(above)) => format!("the nearest that can are {below} and {above}"),
            (below, None) => format!("the nearest that can is {below}"),
        }
    }

    /// The largest value with no trailing-zero requirement (every value up to it packs).
    pub fn exact_limit(&self) -> u64 {
        (1 << self.mantissa_bits) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(
            AMOUNT_FORMAT.pack(1_500_000_000),
            Some(Packed {
                mantissa: 150_000,
                exponent: 4
            })
        );
        assert_eq!(AMOUNT_FORMAT.pack(524_288 + 1), None); // needs 20 bits, not a multiple of 10
        assert_eq!(
            FEE_FORMAT.pack(2047),
            Some(Packed {
                mantissa: 2047,
                exponent: 0
            })
        );
        assert_eq!(FEE_FORMAT.pack(2048), None);
        assert_eq!(
            FEE_FORMAT.unpack(Packed {
                mantissa: 2047,
                exponent: 31
            }),
            None
        );
    }

    #[test]
    fn nearest_packable_values() {
        assert_eq!(AMOUNT_FORMAT.nearest(524_289), (524_280, Some(524_290)));
        assert_eq!(AMOUNT_FORMAT.nearest(1_000), (1_000, Some(1_000)));
        // 5_242_880 would need mantissa 2^19 at exponent 1: the next one up is 52_429·10²
        assert_eq!(
            AMOUNT_FORMAT.nearest(5_242_879),
            (5_242_870, Some(5_242_900))
        );
        assert_eq!(FEE_FORMAT.nearest(2_049), (2_040, Some(2_050)));
        assert_eq!(
            AMOUNT_FORMAT.hint(524_289),
            "the nearest that can are 524280 and 524290"
        );
    }

    proptest! {
        #[test]
        fn nearest_brackets_and_packs(v in 0u64..u64::MAX / 100) {
            let (below, above) = AMOUNT_FORMAT.nearest(v);
            prop_assert!(below <= v && AMOUNT_FORMAT.pack(below).is_some());
            let above = above.expect("below u64::MAX / 100 there is one above");
            prop_assert!(above >= v && AMOUNT_FORMAT.pack(above).is_some());
        }

        #[test]
        fn pack_roundtrips(m in 0u64..(1 << 19), e in 0u32..14) {
            let v = m * 10u64.pow(e);
            let p = AMOUNT_FORMAT.pack(v).expect("representable");
            prop_assert_eq!(AMOUNT_FORMAT.unpack(p), Some(v));
            prop_assert_eq!(AMOUNT_FORMAT.from_bits(AMOUNT_FORMAT.to_bits(p)), p);
        }
    }
}
