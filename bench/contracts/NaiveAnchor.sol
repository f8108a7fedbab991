// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// The baseline bench/gas compares against: every reading's hash in its own storage slot, which is
/// what "put the data on the blockchain" amounts to without Merkle batching.
contract NaiveAnchor {
    mapping(bytes32 => uint64) public anchoredAt;
    event ReadingAnchored(bytes32 indexed readingHash);

    function anchorReadings(bytes32[] calldata readingHashes) external {
        for (uint256 i = 0; i < readingHashes.length; i++) {
            anchoredAt[readingHashes[i]] = uint64(block.number);
            emit ReadingAnchored(readingHashes[i]);
        }
    }
}
