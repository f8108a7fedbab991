// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

interface IRegistryForAccess {
    function hospitalAdmin(bytes32 hospital) external view returns (address);
    function isActiveNodeOperator(address operator) external view returns (bool);
    function isActiveUser(bytes32 id) external view returns (bool);
}

/// @title Grants of access to medical data, their revocation, and every access served.
/// @notice The data owner (a hospital, through its admin) grants a registered data user access to
/// one patient's readings (by a hash of the patient pseudonym) over a time range, until an expiry.
/// Chain nodes record each access they serve against a grant that is valid at that moment, so the
/// log of who saw what is on chain and traceable. State is only what a node must check; the rest
/// lives in events.
contract AccessLog {
    struct Grant {
        bytes32 hospital;
        bytes32 user;
        bytes32 patientScope; // keccak256("mcps/patient/v1", pseudonym), computed off chain
        uint64 fromTime; // readings received from (ms since the epoch)
        uint64 toTime; // … to (ms), inclusive
        uint64 expiry; // grant usable until (s since the epoch, block time)
        bool revoked;
    }

    IRegistryForAccess public immutable registry;
    Grant[] private grants;

    event Granted(uint256 indexed grantId, bytes32 indexed hospital, bytes32 indexed user, bytes32 patientScope, uint64 fromTime, uint64 toTime, uint64 expiry);
    event GrantRevoked(uint256 indexed grantId, bytes32 indexed hospital, bytes32 indexed user);
    event Accessed(uint256 indexed grantId, bytes32 indexed user, address indexed node, bytes32 gatewayId, uint64 seq);

    error NotHospitalAdmin(bytes32 hospital, address caller);
    error UnknownUser(bytes32 user);
    error BadRange();
    error UnknownGrant(uint256 grantId);
    error GrantNotValid(uint256 grantId);
    error NotANode(address sender);

    constructor(address registry_) {
        registry = IRegistryForAccess(registry_);
    }

    function grant(bytes32 hospital, bytes32 user, bytes32 patientScope, uint64 fromTime, uint64 toTime, uint64 expiry) external returns (uint256 grantId) {
        if (registry.hospitalAdmin(hospital) != msg.sender || msg.sender == address(0)) revert NotHospitalAdmin(hospital, msg.sender);
        if (!registry.isActiveUser(user)) revert UnknownUser(user);
        if (toTime < fromTime || expiry <= block.timestamp) revert BadRange();
        grantId = grants.length;
        grants.push(Grant({hospital: hospital, user: user, patientScope: patientScope, fromTime: fromTime, toTime: toTime, expiry: expiry, revoked: false}));
        emit Granted(grantId, hospital, user, patientScope, fromTime, toTime, expiry);
    }

    function revokeGrant(uint256 grantId) external {
        Grant storage g = _grant(grantId);
        if (registry.hospitalAdmin(g.hospital) != msg.sender) revert NotHospitalAdmin(g.hospital, msg.sender);
        g.revoked = true;
        emit GrantRevoked(grantId, g.hospital, g.user);
    }

    /// @notice Called by a chain node each time it serves data under a grant.
    function recordAccess(uint256 grantId, bytes32 gatewayId, uint64 seq) external {
        if (!registry.isActiveNodeOperator(msg.sender)) revert NotANode(msg.sender);
        Grant storage g = _grant(grantId);
        if (!_valid(g)) revert GrantNotValid(grantId);
        emit Accessed(grantId, g.user, msg.sender, gatewayId, seq);
    }

    /// @notice What a node checks before serving: the grant, whether it is usable now for this user.
    function getGrant(uint256 grantId) external view returns (Grant memory g, bool validNow) {
        Grant storage stored = _grant(grantId);
        g = stored;
        validNow = _valid(stored);
    }

    function grantCount() external view returns (uint256) {
        return grants.length;
    }

    function _grant(uint256 grantId) private view returns (Grant storage) {
        if (grantId >= grants.length) revert UnknownGrant(grantId);
        return grants[grantId];
    }

    function _valid(Grant storage g) private view returns (bool) {
        return !g.revoked && block.timestamp < g.expiry && registry.isActiveUser(g.user);
    }
}
