// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

interface IRegistryForAccess {
    function hospitalAdmin(bytes32 hospital) external view returns (address);
    function isActiveNodeOperator(address operator) external view returns (bool);
    function isActiveUser(bytes32 id) external view returns (bool);
}

/// @title Grants of access to medical data, their revocation, and every access served.
/// @notice The data owner (a hospital, through its admin) grants a registered data user access to
/// one patient's readings over a time range, until an expiry, and may revoke it. The patient appears
/// only as two keyed commitments computed by the owner (docs/sharing.md): `patientScope`, the same
/// for every grant of that patient (the owner's audits), and `tagsHash`, the hash of the patient's
/// day tags over the grant's days (a chain node checks a user's query against it; the tags
/// themselves stay off chain). Chain nodes record each access they serve; many accesses share one
/// transaction (recordAccesses), so the trace costs a few thousand gas per access.
contract AccessLog {
    struct Grant {
        // slot 0: everything recordAccess reads, so checking a grant costs one storage read
        uint64 fromTime; // readings received from (ms since the epoch)
        uint64 toTime; // … to (ms), inclusive
        uint64 expiry; // grant usable until (s since the epoch, block time)
        bool revoked;
        bytes32 hospital;
        bytes32 user;
        bytes32 patientScope; // keyed hash of the pseudonym (owner's patient tag key)
        bytes32 tagsHash; // hash of the patient's day tags over [fromTime, toTime]
    }

    IRegistryForAccess public immutable registry;
    Grant[] private grants;

    event Granted(uint256 indexed grantId, bytes32 indexed hospital, bytes32 indexed user, bytes32 patientScope, bytes32 tagsHash, uint64 fromTime, uint64 toTime, uint64 expiry);
    event GrantRevoked(uint256 indexed grantId, bytes32 indexed hospital, bytes32 indexed user);
    /// Accesses a node served, each one word: grantId (high 128 bits) ‖ fromTime (64) ‖ toTime (64),
    /// ranges in ms. One log per transaction for all of them (a log per access would cost ~1,000 gas
    /// more each).
    event Accessed(address indexed node, uint256[] accesses);
    /// Accesses of a batch that were not recorded because their grant is no longer valid (revoked,
    /// expired, unknown, or the range lies outside it); the node must not serve them.
    event AccessRefused(address indexed node, uint256[] accesses);

    error NotHospitalAdmin(bytes32 hospital, address caller);
    error UnknownUser(bytes32 user);
    error BadRange();
    error UnknownGrant(uint256 grantId);
    error GrantNotValid(uint256 grantId);
    error NotANode(address sender);

    constructor(address registry_) {
        registry = IRegistryForAccess(registry_);
    }

    function grant(bytes32 hospital, bytes32 user, bytes32 patientScope, bytes32 tagsHash, uint64 fromTime, uint64 toTime, uint64 expiry) external returns (uint256 grantId) {
        if (registry.hospitalAdmin(hospital) != msg.sender || msg.sender == address(0)) revert NotHospitalAdmin(hospital, msg.sender);
        if (!registry.isActiveUser(user)) revert UnknownUser(user);
        if (toTime < fromTime || expiry <= block.timestamp) revert BadRange();
        grantId = grants.length;
        grants.push(Grant({fromTime: fromTime, toTime: toTime, expiry: expiry, revoked: false, hospital: hospital, user: user, patientScope: patientScope, tagsHash: tagsHash}));
        emit Granted(grantId, hospital, user, patientScope, tagsHash, fromTime, toTime, expiry);
    }

    function revokeGrant(uint256 grantId) external {
        Grant storage g = _grant(grantId);
        if (registry.hospitalAdmin(g.hospital) != msg.sender) revert NotHospitalAdmin(g.hospital, msg.sender);
        g.revoked = true;
        emit GrantRevoked(grantId, g.hospital, g.user);
    }

    /// @notice One access, served by the calling node under `grantId` for readings in [fromTime, toTime].
    /// Refused unless the grant is valid now and covers the range.
    function recordAccess(uint256 grantId, uint64 fromTime, uint64 toTime) external {
        if (!registry.isActiveNodeOperator(msg.sender)) revert NotANode(msg.sender);
        Grant storage g = _grant(grantId);
        if (!_covers(g, fromTime, toTime)) revert GrantNotValid(grantId);
        uint256[] memory one = new uint256[](1);
        one[0] = (grantId << 128) | (uint256(fromTime) << 64) | toTime;
        emit Accessed(msg.sender, one);
    }

    /// @notice Many accesses in one transaction. Each is one word: grantId (high 128 bits) ‖
    /// fromTime (64) ‖ toTime (64). An access whose grant is not valid is not recorded (listed in
    /// AccessRefused) and the others still are (listed in Accessed), so one revocation never blocks
    /// a batch.
    function recordAccesses(uint256[] calldata accesses) external {
        if (!registry.isActiveNodeOperator(msg.sender)) revert NotANode(msg.sender);
        uint256 n = accesses.length;
        uint256 count = grants.length;
        uint256[] memory recorded = new uint256[](n);
        uint256[] memory refused = new uint256[](n);
        uint256 r;
        uint256 f;
        for (uint256 i = 0; i < n; i++) {
            uint256 a = accesses[i];
            uint256 grantId = a >> 128;
            if (grantId < count && _covers(grants[grantId], uint64(a >> 64), uint64(a))) recorded[r++] = a;
            else refused[f++] = a;
        }
        // Trim both lists to what they hold (memory only; nothing else points into them).
        assembly {
            mstore(recorded, r)
            mstore(refused, f)
        }
        if (r > 0) emit Accessed(msg.sender, recorded);
        if (f > 0) emit AccessRefused(msg.sender, refused);
    }

    /// @notice What a node checks before serving: the grant, and whether it is usable now (not
    /// revoked, not expired, its user still active in the registry).
    function getGrant(uint256 grantId) external view returns (Grant memory g, bool validNow) {
        Grant storage stored = _grant(grantId);
        g = stored;
        validNow = !stored.revoked && block.timestamp < stored.expiry && registry.isActiveUser(stored.user);
    }

    function grantCount() external view returns (uint256) {
        return grants.length;
    }

    function _grant(uint256 grantId) private view returns (Grant storage) {
        if (grantId >= grants.length) revert UnknownGrant(grantId);
        return grants[grantId];
    }

    /// Not revoked, not expired, and [fromTime, toTime] inside the granted range: one storage read.
    /// (The user's registry status is checked by the node before serving and by getGrant; checking
    /// it here too would double the gas of every recorded access.)
    function _covers(Grant storage g, uint64 fromTime, uint64 toTime) private view returns (bool) {
        return !g.revoked && block.timestamp < g.expiry && fromTime >= g.fromTime && toTime <= g.toTime && fromTime <= toTime;
    }
}
