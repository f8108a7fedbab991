// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {BlsPop} from "./BlsPop.sol";

interface IRegistryForAnchor {
    function isActiveNodeOperator(address operator) external view returns (bool);
    function isActiveGateway(bytes32 id) external view returns (bool);
    function getEntry(bytes32 id) external view returns (uint8 role, bool active, uint32 epoch, address operator, bytes32 hospital, bytes32 x25519Key, bytes memory blsKey);
}

/// @title Folded anchors of batch headers, one hash chain per gateway.
/// @notice One transaction anchors many batches of many gateways with a constant amount of storage:
/// one slot per gateway it touches (that gateway's head: sequence number and header hash prefix),
/// written once per transaction, and one log per gateway. Per gateway the calldata carries one
/// group: its first sequence number, how many consecutive batches, the previous header hash its
/// first batch names and the header hash of its last batch (the group's head). The batches in
/// between are not on chain: each batch header names its predecessor's hash, so the headers
/// themselves (which the node stores and serves) prove every link from the group's first batch to
/// its head, and a verifier rebuilds each group and checks it ends in the anchored head. The node
/// also passes the root of a Merkle tree over the transaction's header hashes in group order
/// (keccak256, adjacent nodes paired, an odd last node carried up; protocol/fold.ts); the contract
/// logs it with each group, so a receipt's audit path proves one batch without the others.
/// Each group must continue its gateway's chain: its first sequence number is the head's + 1 and
/// it names the head's header hash as previous, so a gap, a fork or a replay is refused here, on
/// chain. What this lets a dishonest node do (e.g. anchor a head whose intermediate headers it
/// cannot show) is in docs/contracts.md.
///
/// Trustless mode (a deployment option): the node passes the gateways' encoded headers instead of
/// their hashes, with one aggregate of the gateways' BLS signatures. The contract parses each header,
/// hashes it as protocol/batch.ts does, hashes that to G1 under the signature DST exactly as
/// protocol/bls.ts does (RFC 9380, BlsPop.hashToG1), checks every link of each gateway's chain
/// (sequence number and full previous hash), and checks the aggregate with one pairing call of
/// n + 1 pairs for n gateway groups: e(sig, -g2) · prod_g e(sum of the group's H(m), pk_g) = 1, each
/// pk_g the gateway's registered key. A header a node forged, altered or replays is refused.
contract Anchor {
    /// Consecutive batches of one gateway: seq firstSeq .. firstSeq + count - 1, the first naming
    /// prevHeaderHash as previous, the last hashing to headHeaderHash; their header hashes are the
    /// next `count` leaves of the transaction's fold.
    struct Group {
        bytes32 gatewayId;
        uint64 firstSeq;
        uint32 count;
        bytes32 prevHeaderHash;
        bytes32 headHeaderHash;
    }

    IRegistryForAnchor public immutable registry;
    /// Trustless deployments anchor only headers signed by their gateways (anchorSigned).
    bool public immutable trustless;
    /// gateway => seq (high 64 bits) ‖ the first 24 bytes of its last header hash
    mapping(bytes32 => bytes32) private heads;

    /// `span` packs firstSeq (bits 255..192) ‖ count (191..160) ‖ leaf index of the group's first
    /// batch in the fold (159..128) ‖ fold size (127..96); the header hashes are the transaction's.
    event Folded(bytes32 indexed gatewayId, uint256 span, bytes32 foldRoot);

    error NotANode(address sender);
    error GatewayNotActive(bytes32 gatewayId);
    error BadSequence(uint64 expected, uint64 got);
    error WrongPrevHash(bytes24 expected, bytes24 got);
    error LengthMismatch();
    error EmptyRoot();
    error WrongMode(bool trustless);
    error BadHeader(uint256 index);
    error WrongKey(bytes32 gatewayId);
    error BadSignature();

    /// protocol/batch.ts: headerHash = SHA-256(label ‖ header); protocol/bls.ts SIG_DST.
    bytes private constant HEADER_LABEL = "mcps/batch-header/v2";
    bytes private constant SIG_DST = "MCPS-EDGE-V1-BLS-SIG-BLS12381G1_XMD:SHA-256_SSWU_RO_";
    address private constant G1ADD = address(0x0b);
    address private constant PAIRING = address(0x0f);

    constructor(address registry_, bool trustless_) {
        registry = IRegistryForAnchor(registry_);
        trustless = trustless_;
    }

    /// @notice Anchors the groups' batches, all or nothing (an active node's operator only; not in
    /// a trustless deployment). `foldRoot` is the root over the header hashes of all the groups'
    /// batches, in group order (the node's word: the contract cannot see the hashes it folds).
    function anchorFolded(Group[] calldata groups, bytes32 foldRoot) external {
        if (trustless) revert WrongMode(true);
        if (!registry.isActiveNodeOperator(msg.sender)) revert NotANode(msg.sender);
        if (groups.length == 0) revert LengthMismatch();
        if (foldRoot == bytes32(0)) revert EmptyRoot();
        uint256 n = 0;
        for (uint256 g = 0; g < groups.length; g++) {
            uint256 count = groups[g].count;
            if (count == 0) revert LengthMismatch();
            n += count;
        }
        if (n > type(uint32).max) revert LengthMismatch();
        uint256 offset = 0;
        for (uint256 g = 0; g < groups.length; g++) {
            Group calldata grp = groups[g];
            uint256 count = grp.count;
            if (grp.headHeaderHash == bytes32(0)) revert EmptyRoot();
            _advance(grp.gatewayId, grp.firstSeq, count, grp.prevHeaderHash, grp.headHeaderHash);
            emit Folded(grp.gatewayId, (uint256(grp.firstSeq) << 192) | (count << 160) | (offset << 128) | (n << 96), foldRoot);
            offset += count;
        }
    }

    /// @notice Trustless deployments: anchors signed headers, all or nothing. `headers` are encoded
    /// batch headers; each run of consecutive headers of one gateway is a group, and `keys[g]` is
    /// group g's gateway key in EIP-2537 G2 encoding (it must be the registered key); `signature` is
    /// the sum of all the headers' signatures (EIP-2537 G1).
    function anchorSigned(bytes[] calldata headers, bytes[] calldata keys, bytes calldata signature) external {
        if (!trustless) revert WrongMode(false);
        if (!registry.isActiveNodeOperator(msg.sender)) revert NotANode(msg.sender);
        uint256 n = headers.length;
        if (n == 0 || n > type(uint32).max || signature.length != 128 || keys.length == 0) revert LengthMismatch();
        Acc memory acc = Acc(new bytes32[](n), abi.encodePacked(signature, BlsPop.NEG_G2), n);
        uint256[] memory spans = new uint256[](keys.length);
        bytes32[] memory ids = new bytes32[](keys.length);
        uint256 g = 0;
        for (uint256 i = 0; i < n; g++) {
            if (g >= keys.length) revert LengthMismatch();
            (i, ids[g], spans[g]) = _signedGroup(headers, i, keys[g], acc);
        }
        if (g != keys.length) revert LengthMismatch();
        // One pairing check for the whole transaction: n + 1 pairs for n groups. The precompile
        // refuses points off their curve or outside their subgroup.
        (bool ok, bytes memory out) = PAIRING.staticcall(acc.pairs);
        if (!ok || out.length != 32 || uint256(bytes32(out)) != 1) revert BadSignature();
        bytes32 root = _foldRootMem(acc.hashes);
        for (uint256 k = 0; k < g; k++) emit Folded(ids[k], spans[k], root);
    }

    /// What anchorSigned accumulates: the header hashes, the pairing input, the header count.
    struct Acc {
        bytes32[] hashes;
        bytes pairs;
        uint256 n;
    }

    /// A group being read: its gateway, first sequence number and previous hash, first header.
    struct Grp {
        bytes32 gw;
        uint64 firstSeq;
        bytes32 prev;
        uint256 start;
    }

    /// The group of headers from `start` (one gateway's consecutive headers): checks its links,
    /// moves the gateway's head, adds (sum of the group's H(m), key) to the pairing input.
    function _signedGroup(bytes[] calldata headers, uint256 start, bytes calldata key, Acc memory acc) private returns (uint256 i, bytes32 gw, uint256 span) {
        Grp memory grp;
        (grp.gw, grp.firstSeq, grp.prev) = _parseHeader(headers[start], start);
        grp.start = start;
        _checkKey(grp.gw, key);
        bytes memory sum;
        for (i = start; i < acc.n; i++) {
            bytes memory hm = _signedHeader(headers[i], i, grp, acc);
            if (hm.length == 0) break;
            sum = i == start ? hm : _g1Add(sum, hm);
        }
        _advance(grp.gw, grp.firstSeq, i - start, grp.prev, acc.hashes[i - 1]);
        acc.pairs = abi.encodePacked(acc.pairs, sum, key);
        span = (uint256(grp.firstSeq) << 192) | ((i - start) << 160) | (start << 128) | (acc.n << 96);
        gw = grp.gw;
    }

    /// Header i of a group: empty if it names another gateway (the group ends); else checks it
    /// follows the previous header, records its hash and returns the hash mapped to G1.
    function _signedHeader(bytes calldata h, uint256 i, Grp memory grp, Acc memory acc) private view returns (bytes memory hm) {
        (bytes32 id, uint64 seq, bytes32 p) = _parseHeader(h, i);
        if (id != grp.gw) return hm;
        if (i > grp.start) {
            uint64 want = uint64(grp.firstSeq + (i - grp.start));
            if (seq != want) revert BadSequence(want, seq);
            if (p != acc.hashes[i - 1]) revert WrongPrevHash(bytes24(acc.hashes[i - 1]), bytes24(p));
        }
        bytes32 hh = sha256(abi.encodePacked(HEADER_LABEL, h));
        acc.hashes[i] = hh;
        return BlsPop.hashToG1(abi.encodePacked(hh), SIG_DST);
    }

    /// @return seq the gateway's last anchored sequence number (0: none yet)
    /// @return headerHashPrefix the first 24 bytes of that batch's header hash
    function head(bytes32 gatewayId) external view returns (uint64 seq, bytes24 headerHashPrefix) {
        bytes32 h = heads[gatewayId];
        return (uint64(uint256(h) >> 192), bytes24(h << 64));
    }

    /// Checks that `count` batches from `firstSeq`, the first naming `prev`, continue the gateway's
    /// chain, and moves its head to the last of them.
    function _advance(bytes32 gatewayId, uint64 firstSeq, uint256 count, bytes32 prev, bytes32 last) private {
        if (!registry.isActiveGateway(gatewayId)) revert GatewayNotActive(gatewayId);
        bytes32 h = heads[gatewayId];
        uint64 seq = uint64(uint256(h) >> 192);
        if (firstSeq != seq + 1) revert BadSequence(seq + 1, firstSeq);
        if (bytes24(prev) != bytes24(h << 64)) revert WrongPrevHash(bytes24(h << 64), bytes24(prev));
        heads[gatewayId] = bytes32((uint256(seq + uint64(count)) << 192) | (uint256(last) >> 64));
    }

    /// The header's gateway id (as the registry stores it), sequence number and previous hash;
    /// the layout is protocol/batch.ts's (version 2, 144 + L bytes).
    function _parseHeader(bytes calldata h, uint256 index) private pure returns (bytes32 id, uint64 seq, bytes32 prev) {
        if (h.length < 2 || uint8(h[0]) != 2) revert BadHeader(index);
        uint256 l = uint8(h[1]);
        if (l == 0 || l > 31 || h.length != 144 + l) revert BadHeader(index);
        id = bytes32(h[2:2 + l]);
        seq = uint64(bytes8(h[2 + l:10 + l]));
        prev = bytes32(h[10 + l:42 + l]);
    }

    /// `key` (EIP-2537 G2) must be the gateway's registered key.
    function _checkKey(bytes32 gatewayId, bytes calldata key) private view {
        if (key.length != 256) revert WrongKey(gatewayId);
        (, , , , , , bytes memory registered) = registry.getEntry(gatewayId);
        if (keccak256(BlsPop.compressG2(key)) != keccak256(registered)) revert WrongKey(gatewayId);
    }

    function _g1Add(bytes memory a, bytes memory b) private view returns (bytes memory out) {
        bool ok;
        (ok, out) = G1ADD.staticcall(abi.encodePacked(a, b));
        if (!ok || out.length != 128) revert BlsPop.PrecompileFailed(G1ADD);
    }

    /// Merkle root over the leaves: keccak256(left ‖ right), an odd last node carried up. Overwrites `level`.
    function _foldRootMem(bytes32[] memory level) private pure returns (bytes32 root) {
        uint256 n = level.length;
        unchecked {
            while (n > 1) {
                uint256 half = 0;
                for (uint256 i = 0; i + 1 < n; i += 2) {
                    bytes32 a = level[i];
                    bytes32 b = level[i + 1];
                    bytes32 p;
                    assembly ("memory-safe") {
                        mstore(0x00, a)
                        mstore(0x20, b)
                        p := keccak256(0x00, 0x40)
                    }
                    level[half++] = p;
                }
                if (n % 2 == 1) level[half++] = level[n - 1];
                n = half;
            }
        }
        root = level[0];
    }
}
