// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

interface IRegistryForAnchor {
    function isActiveNodeOperator(address operator) external view returns (bool);
    function isActiveGateway(bytes32 id) external view returns (bool);
}

/// @title The per-batch anchor layout (the Anchor contract before folding), kept for bench/gas: one storage slot pair and one event per batch.
/// @notice A registered chain node anchors each batch of a gateway in sequence: sequence numbers
/// must follow without gaps and each batch must name the previous batch's header hash, so a gap,
/// a deletion or a rewrite is refused here, on chain. The Anchored events let anyone rebuild every
/// gateway's chain of batches.
contract PerBatchAnchor {
    struct Head {
        uint64 seq;
        bytes32 headerHash;
    }

    IRegistryForAnchor public immutable registry;
    mapping(bytes32 => Head) private heads;
    mapping(bytes32 => mapping(uint64 => bytes32)) private roots;

    event Anchored(bytes32 indexed gatewayId, uint64 indexed seq, bytes32 root, bytes32 headerHash, bytes32 prevHeaderHash, uint32 count);

    error NotANode(address sender);
    error GatewayNotActive(bytes32 gatewayId);
    error BadSequence(uint64 expected, uint64 got);
    error WrongPrevHash(bytes32 expected, bytes32 got);
    error LengthMismatch();
    error EmptyRoot();

    constructor(address registry_) {
        registry = IRegistryForAnchor(registry_);
    }

    function anchor(bytes32 gatewayId, uint64 seq, bytes32 prevHeaderHash, bytes32 headerHash, bytes32 root, uint32 count) external {
        if (!registry.isActiveNodeOperator(msg.sender)) revert NotANode(msg.sender);
        _anchor(gatewayId, seq, prevHeaderHash, headerHash, root, count);
    }

    /// @notice Several batches, possibly of several gateways, in one transaction. All or nothing.
    function anchorMany(bytes32[] calldata gatewayIds, uint64[] calldata seqs, bytes32[] calldata prevHeaderHashes, bytes32[] calldata headerHashes, bytes32[] calldata roots_, uint32[] calldata counts) external {
        if (!registry.isActiveNodeOperator(msg.sender)) revert NotANode(msg.sender);
        uint256 n = gatewayIds.length;
        if (seqs.length != n || prevHeaderHashes.length != n || headerHashes.length != n || roots_.length != n || counts.length != n) revert LengthMismatch();
        for (uint256 i = 0; i < n; i++) {
            _anchor(gatewayIds[i], seqs[i], prevHeaderHashes[i], headerHashes[i], roots_[i], counts[i]);
        }
    }

    function head(bytes32 gatewayId) external view returns (uint64 seq, bytes32 headerHash) {
        Head storage h = heads[gatewayId];
        return (h.seq, h.headerHash);
    }

    function rootOf(bytes32 gatewayId, uint64 seq) external view returns (bytes32) {
        return roots[gatewayId][seq];
    }

    function _anchor(bytes32 gatewayId, uint64 seq, bytes32 prevHeaderHash, bytes32 headerHash, bytes32 root, uint32 count) private {
        if (!registry.isActiveGateway(gatewayId)) revert GatewayNotActive(gatewayId);
        if (root == bytes32(0) || headerHash == bytes32(0)) revert EmptyRoot();
        Head storage h = heads[gatewayId];
        if (seq != h.seq + 1) revert BadSequence(h.seq + 1, seq);
        if (prevHeaderHash != h.headerHash) revert WrongPrevHash(h.headerHash, prevHeaderHash);
        h.seq = seq;
        h.headerHash = headerHash;
        roots[gatewayId][seq] = root;
        emit Anchored(gatewayId, seq, root, headerHash, prevHeaderHash, count);
    }
}
