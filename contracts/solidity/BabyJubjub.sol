// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// @title Baby Jubjub and EdDSA-Poseidon verification
/// @notice The curve in circomlib's form, 168700·x² + y² = 1 + 168696·x²·y² over the BN254
///         scalar field, and the check circomlibjs `verifyPoseidon` makes (plus the small-order
///         key check of ferry_circuits::eddsa::PublicKey::verify), for the keys that sign L2
///         messages (docs/protocol.md, "Field, hash, keys").
/// @dev Points are kept projective (X : Y : Z), x = X/Z, y = Y/Z, so that no step needs an
///      inversion. The addition law is complete on this curve (a is a square and d is not),
///      so one formula adds any two points, the identity (0 : 1 : 1) and equal ones included.
library BabyJubjub {
    /// @notice The BN254 scalar field, the curve's base field.
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice The order l of the subgroup Base8 generates (the curve has 8·l points).
    uint256 internal constant L = 2736030358979909402780800718157159386076813972158567259200215660948447373041;
    uint256 internal constant A = 168700;
    uint256 internal constant D = 168696;
    /// @notice circomlib's Base8 (ferry_circuits::babyjubjub::BASE8_X, BASE8_Y).
    uint256 internal constant BASE8_X = 5299619240641551281634865583518297030282874472190772894086521144482721001553;
    uint256 internal constant BASE8_Y = 16950150798460657717958625567821834550301663161624707787222815936182638968203;

    /// @notice Whether (x, y) is a point of the curve with canonical coordinates.
    function onCurve(uint256 x, uint256 y) internal pure returns (bool) {
        if (x >= R || y >= R) return false;
        uint256 x2 = mulmod(x, x, R);
        uint256 y2 = mulmod(y, y, R);
        uint256 lhs = addmod(mulmod(A, x2, R), y2, R);
        uint256 rhs = addmod(1, mulmod(mulmod(D, x2, R), y2, R), R);
        return lhs == rhs;
    }

    /// @notice Whether (r8x, r8y, s) signs a message with key (ax, ay), given the message's
    ///         challenge hm = Poseidon(R8.x, R8.y, A.x, A.y, m) (the caller holds the Poseidon
    ///         contract): S < l, A and R8 on the curve, 8·A not the identity, and
    ///         S·Base8 = R8 + hm·(8·A).
    /// @dev hm is used whole, not reduced mod l: 8·A lies in the subgroup of order l, so both
    ///      give the same point. The two products are one pass of Shamir's trick over
    ///      S·Base8 − hm·(8·A), compared with R8 projectively. About 1,100 gas a point
    ///      operation, 500,000 a verification: the optimizer (runs = 200) reads each 32-byte
    ///      constant with CODECOPY and MLOAD, and spills the formulas' variables to memory.
    function verify(uint256 ax, uint256 ay, uint256 r8x, uint256 r8y, uint256 s, uint256 hm)
        internal
        pure
        returns (bool ok)
    {
        if (s >= L || !onCurve(ax, ay) || !onCurve(r8x, r8y)) return false;
        assembly ("memory-safe") {
            // P + Q (Bernstein, Birkner, Joye, Lange, Peters, "Twisted Edwards curves",
            // 2008, §6: add-2008-bbjlp)
            function padd(x1, y1, z1, x2, y2, z2) -> x3, y3, z3 {
                let a := mulmod(z1, z2, R)
                let c := mulmod(x1, x2, R)
                let d := mulmod(y1, y2, R)
                // (x1 + y1)(x2 + y2) − c − d = x1·y2 + y1·x2
                let t := addmod(mulmod(addmod(x1, y1, R), addmod(x2, y2, R), R), sub(R, addmod(c, d, R)), R)
                let e := mulmod(mulmod(D, c, R), d, R)
                let b := mulmod(a, a, R)
                let f := addmod(b, sub(R, e), R)
                let g := addmod(b, e, R)
                x3 := mulmod(mulmod(a, f, R), t, R)
                y3 := mulmod(mulmod(a, g, R), addmod(d, sub(R, mulmod(A, c, R)), R), R)
                z3 := mulmod(f, g, R)
            }
            // 2·P, the same law with P = Q, 3 products fewer (ibid., dbl-2008-bbjlp)
            function pdbl(x1, y1, z1) -> x3, y3, z3 {
                let b := addmod(x1, y1, R)
                b := mulmod(b, b, R)
                let c := mulmod(x1, x1, R)
                let d := mulmod(y1, y1, R)
                let e := mulmod(A, c, R)
                let f := addmod(e, d, R)
                let h := mulmod(z1, z1, R)
                let j := addmod(f, sub(R, addmod(h, h, R)), R)
                x3 := mulmod(addmod(b, sub(R, addmod(c, d, R)), R), j, R)
                y3 := mulmod(f, addmod(e, sub(R, d), R), R)
                z3 := mulmod(f, j, R)
            }
            // 8·A: a key of small order would verify anything, hm·(8·A) being the identity
            let kx, ky, kz := pdbl(ax, ay, 1)
            kx, ky, kz := pdbl(kx, ky, kz)
            kx, ky, kz := pdbl(kx, ky, kz)
            ok := iszero(and(iszero(kx), eq(ky, kz)))
            // −(8·A) = (−x : y : z); and Base8 − 8·A for the steps where both bits are set
            kx := sub(R, kx)
            let bx, by, bz := padd(BASE8_X, BASE8_Y, 1, kx, ky, kz)
            let x := 0
            let y := 1
            let z := 1
            // hm < R < 2^254, s < l < 2^252
            for { let i := 254 } i {} {
                i := sub(i, 1)
                x, y, z := pdbl(x, y, z)
                switch or(and(shr(i, s), 1), shl(1, and(shr(i, hm), 1)))
                case 1 { x, y, z := padd(x, y, z, BASE8_X, BASE8_Y, 1) }
                case 2 { x, y, z := padd(x, y, z, kx, ky, kz) }
                case 3 { x, y, z := padd(x, y, z, bx, by, bz) }
            }
            ok := and(ok, and(eq(x, mulmod(r8x, z, R)), eq(y, mulmod(r8y, z, R))))
        }
    }
}
