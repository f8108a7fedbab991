// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title On-chain check of a BLS12-381 proof of possession, with the EIP-2537 precompiles (Prague).
/// @notice Keys are given in the precompiles' uncompressed encoding (G2: 256 bytes, G1: 128 bytes);
/// the library derives the 96-byte compressed key (the form the rest of the system uses and the PoP
/// signs), hashes it to G1 under our PoP DST exactly as RFC 9380 hash_to_curve does (expand_message_xmd
/// with SHA-256, two field elements, map-to-curve with cofactor clearing, point addition), and checks
/// e(pop, -g2) · e(H(pk), pk) = 1. The pairing precompile also checks both points are on their curves
/// and in the prime-order subgroups; the identity is refused explicitly (it would make the check
/// vacuous).
library BlsPop {
    // p = 0x1a0111ea…aaab, split as 128 high bits and 256 low bits; HALF = (p - 1) / 2 likewise.
    uint256 private constant HALF_HI = 0x0d0088f51cbff34d258dd3db21a5d66b;
    uint256 private constant HALF_LO = 0xb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555;
    bytes private constant P = hex"1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab";
    /// -g2 in EIP-2537 encoding: x.c0, x.c1, y.c0, y.c1, each 64 bytes.
    bytes internal constant NEG_G2 =
        hex"00000000000000000000000000000000024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
        hex"0000000000000000000000000000000013e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
        hex"000000000000000000000000000000000d1b3cc2c7027888be51d9ef691d77bcb679afda66c73f17f9ee3837a55024f78c71363275a75d75d86bab79f74782aa"
        hex"0000000000000000000000000000000013fa4d4a0ad8b1ce186ed5061789213d993923066dddaf1040bc3ff59f825c78df74f2d75467e25e0f55f8a00fa030ed";

    address private constant G1ADD = address(0x0b);
    address private constant PAIRING = address(0x0f);
    address private constant MAP_FP_TO_G1 = address(0x10);
    address private constant MODEXP = address(0x05);

    error BadKeyEncoding();
    error IdentityKey();
    error BadProofOfPossession();
    error PrecompileFailed(address precompile);

    /// @return compressed the 96-byte compressed public key, if `pop` proves possession of `pk`.
    function verify(bytes calldata pk, bytes calldata pop, bytes memory dst) internal view returns (bytes memory compressed) {
        if (pk.length != 256 || pop.length != 128) revert BadKeyEncoding();
        if (_isZero(pk) || _isZero(pop)) revert IdentityKey();
        compressed = compressG2(pk);
        bytes memory h = hashToG1(compressed, dst);
        (bool ok, bytes memory out) = PAIRING.staticcall(abi.encodePacked(pop, NEG_G2, h, pk));
        // A failed call means a point off its curve or outside its subgroup.
        if (!ok || out.length != 32 || uint256(bytes32(out)) != 1) revert BadProofOfPossession();
    }

    /// ZCash-style compression: x.c1 ‖ x.c0 with flags (compressed, sign of y) in the top bits.
    function compressG2(bytes calldata pk) internal pure returns (bytes memory c) {
        for (uint256 i = 0; i < 4; i++) {
            // each 64-byte field element must have 16 zero bytes of padding
            if (bytes16(pk[i * 64:i * 64 + 16]) != bytes16(0)) revert BadKeyEncoding();
        }
        c = abi.encodePacked(pk[80:128], pk[16:64]);
        bool yc1Zero = bytes16(pk[208:224]) == bytes16(0) && bytes32(pk[224:256]) == bytes32(0);
        bool sign = yc1Zero ? _gtHalf(pk[144:192]) : _gtHalf(pk[208:256]);
        c[0] = bytes1(uint8(c[0]) | 0x80 | (sign ? 0x20 : 0));
    }

    /// RFC 9380 hash_to_curve for G1 (BLS12381G1_XMD:SHA-256_SSWU_RO_) under `dst`.
    function hashToG1(bytes memory message, bytes memory dst) internal view returns (bytes memory) {
        bytes memory dstPrime = abi.encodePacked(dst, uint8(dst.length));
        bytes32 b0 = sha256(abi.encodePacked(new bytes(64), message, uint16(128), uint8(0), dstPrime));
        bytes32 b1 = sha256(abi.encodePacked(b0, uint8(1), dstPrime));
        bytes32 b2 = sha256(abi.encodePacked(b0 ^ b1, uint8(2), dstPrime));
        bytes32 b3 = sha256(abi.encodePacked(b0 ^ b2, uint8(3), dstPrime));
        bytes32 b4 = sha256(abi.encodePacked(b0 ^ b3, uint8(4), dstPrime));
        bytes memory q0 = _call(MAP_FP_TO_G1, _modP(b1, b2), 128);
        bytes memory q1 = _call(MAP_FP_TO_G1, _modP(b3, b4), 128);
        return _call(G1ADD, abi.encodePacked(q0, q1), 128);
    }

    /// (hi ‖ lo) as a 512-bit integer, reduced mod p, as a 64-byte padded field element.
    function _modP(bytes32 hi, bytes32 lo) private view returns (bytes memory) {
        bytes memory r = _call(MODEXP, abi.encodePacked(uint256(64), uint256(1), uint256(48), hi, lo, uint8(1), P), 48);
        return abi.encodePacked(bytes16(0), r);
    }

    function _call(address precompile, bytes memory input, uint256 outLen) private view returns (bytes memory out) {
        bool ok;
        (ok, out) = precompile.staticcall(input);
        if (!ok || out.length != outLen) revert PrecompileFailed(precompile);
    }

    /// Is the 48-byte big-endian field element greater than (p - 1) / 2?
    function _gtHalf(bytes calldata fe) private pure returns (bool) {
        uint256 hi = uint256(uint128(bytes16(fe[0:16])));
        uint256 lo = uint256(bytes32(fe[16:48]));
        return hi > HALF_HI || (hi == HALF_HI && lo > HALF_LO);
    }

    function _isZero(bytes calldata b) private pure returns (bool) {
        for (uint256 i = 0; i < b.length; i += 32) {
            if (bytes32(b[i:i + 32]) != bytes32(0)) return false;
        }
        return true;
    }
}
