// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

interface IRegistryForAnchor {
    function isActiveNodeOperator(address operator) external view returns (bool);
    function isActiveGateway(bytes32 id) external view returns (bool);
}

/// @title Folded anchors of batch headers, one hash chain per gateway.
/// @notice One transaction anchors many batches of many gateways with a constant amount of storage:
/// one slot per gateway it touches (that gateway's head: sequence number and header hash prefix),
/// written once per transaction, and one log per gateway. The header hashes travel once, as
/// calldata, in groups of consecutive batches of one gateway; the contract folds them into a Merkle
/// tree (keccak256, adjacent nodes paired, an odd last node carried up) and logs the root with each
/// group, so a receipt with an audit path proves one batch without the others (protocol/fold.ts).
/// Each group must continue its gateway's chain: its first sequence number is the head's + 1 and
/// it names the head's header hash as previous, so a gap, a fork or a replay is refused here, on
/// chain. docs/contracts.md describes the layout and what a dishonest node can and cannot do.
contract Anchor {
    /// Consecutive batches of one gateway: seq firstSeq .. firstSeq + count - 1, their header hashes
    /// the next `count` entries of the transaction's headerHashes.
    struct Group {
        bytes32 gatewayId;
        uint64 firstSeq;
        uint32 count;
        bytes32 prevHeaderHash;
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

    constructor(address registry_, bool trustless_) {
        registry = IRegistryForAnchor(registry_);
        trustless = trustless_;
    }

    /// @notice Anchors the groups' batches, all or nothing (an active node's operator only; not in
    /// a trustless deployment).
    function anchorFolded(Group[] calldata groups, bytes32[] calldata headerHashes) external {
        if (trustless) revert WrongMode(true);
        if (!registry.isActiveNodeOperator(msg.sender)) revert NotANode(msg.sender);
        uint256 n = headerHashes.length;
        if (n == 0 || n > type(uint32).max || groups.length == 0) revert LengthMismatch();
        bytes32 root = _foldRoot(headerHashes);
        uint256 offset = 0;
        for (uint256 g = 0; g < groups.length; g++) {
            Group calldata grp = groups[g];
            uint256 count = grp.count;
            if (count == 0 || offset + count > n) revert LengthMismatch();
            for (uint256 i = offset; i < offset + count; i++) if (headerHashes[i] == bytes32(0)) revert EmptyRoot();
            _advance(grp.gatewayId, grp.firstSeq, count, grp.prevHeaderHash, headerHashes[offset + count - 1]);
            emit Folded(grp.gatewayId, (uint256(grp.firstSeq) << 192) | (count << 160) | (offset << 128) | (n << 96), root);
            offset += count;
        }
        if (offset != n) revert LengthMismatch();
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

    /// Merkle root over the leaves: keccak256(left ‖ right), an odd last node carried up.
    function _foldRoot(bytes32[] calldata leaves) private pure returns (bytes32 root) {
        uint256 n = leaves.length;
        bytes32[] memory level = leaves;
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
