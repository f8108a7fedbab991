// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {BlsPop} from "./BlsPop.sol";

/// @title Registry of the consortium's parties and their public keys.
/// @notice Replaces a certificate authority: a party's keys are whatever this contract says for the
/// current key epoch, unless revoked. Consortium admins register hospitals and chain nodes; a
/// hospital's admin registers that hospital's gateways and data users, and publishes the hospital's
/// data-owner key (X25519: gateways encrypt batch keys to it, data users address key requests to it).
/// Data users carry two keys: a BLS key (the handshake) and an X25519 encryption key, to which the
/// hospital's key service wraps the slice keys a grant releases.
/// @dev Every BLS key comes with a proof of possession, verified here on chain with the EIP-2537
/// precompiles (BlsPop): without it, a registrant could enrol a rogue key derived from another
/// party's key. Keys arrive in the precompiles' uncompressed encoding and are stored compressed
/// (96 bytes), the form the handshake and ingest use.
contract Registry is AccessControl {
    bytes32 public constant CONSORTIUM_ADMIN = keccak256("CONSORTIUM_ADMIN");
    /// The DST of proofs of possession (protocol/bls.ts POP_DST).
    bytes public constant POP_DST = "MCPS-EDGE-V1-BLS-POP-BLS12381G1_XMD:SHA-256_SSWU_RO_";

    enum Role { None, Gateway, Node, User }

    struct Entry {
        Role role;
        bool active;
        uint32 epoch;
        address operator; // nodes: the account allowed to anchor; others: the registering admin
        bytes32 hospital; // gateways and users: their hospital; nodes: 0
        bytes32 x25519Key; // nodes: handshake key; users: encryption key (HPKE); gateways: 0
        bytes blsKey; // compressed G2, 96 bytes
    }

    mapping(bytes32 => address) public hospitalAdmin;
    /// The hospital's data-owner key (X25519, raw 32 bytes); zero until its admin publishes one.
    mapping(bytes32 => bytes32) public hospitalOwnerKey;
    mapping(bytes32 => Entry) private entries;
    mapping(bytes32 => bool) public blsKeyUsed;
    mapping(address => bytes32) public nodeOfOperator;

    event HospitalRegistered(bytes32 indexed hospital, address admin);
    event OwnerKeySet(bytes32 indexed hospital, bytes32 ownerKey);
    event PartyRegistered(bytes32 indexed id, Role role, bytes32 indexed hospital, address operator, bytes blsKey, bytes32 x25519Key);
    event KeyRotated(bytes32 indexed id, uint32 epoch, bytes blsKey, bytes32 x25519Key);
    event PartyRevoked(bytes32 indexed id, uint32 epoch);

    error AlreadyRegistered(bytes32 id);
    error UnknownHospital(bytes32 hospital);
    error NotHospitalAdmin(bytes32 hospital, address caller);
    error UnknownParty(bytes32 id);
    error KeyAlreadyUsed();
    error NotActive(bytes32 id);
    error OperatorInUse(address operator);
    error EmptyId();
    error MissingKey();

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(CONSORTIUM_ADMIN, admin);
    }

    function registerHospital(bytes32 hospital, address admin) external onlyRole(CONSORTIUM_ADMIN) {
        if (hospital == bytes32(0)) revert EmptyId();
        if (hospitalAdmin[hospital] != address(0)) revert AlreadyRegistered(hospital);
        hospitalAdmin[hospital] = admin;
        emit HospitalRegistered(hospital, admin);
    }

    function registerNode(bytes32 id, address operator, bytes calldata blsKey, bytes calldata pop, bytes32 x25519Key) external onlyRole(CONSORTIUM_ADMIN) {
        if (nodeOfOperator[operator] != bytes32(0)) revert OperatorInUse(operator);
        _register(id, Role.Node, bytes32(0), operator, BlsPop.verify(blsKey, pop, POP_DST), x25519Key);
        nodeOfOperator[operator] = id;
    }

    function registerGateway(bytes32 id, bytes32 hospital, bytes calldata blsKey, bytes calldata pop) external {
        _onlyHospitalAdmin(hospital);
        _register(id, Role.Gateway, hospital, msg.sender, BlsPop.verify(blsKey, pop, POP_DST), bytes32(0));
    }

    /// @param encryptionKey the user's X25519 public key: released slice keys are wrapped to it (HPKE).
    function registerUser(bytes32 id, bytes32 hospital, bytes calldata blsKey, bytes calldata pop, bytes32 encryptionKey) external {
        _onlyHospitalAdmin(hospital);
        if (encryptionKey == bytes32(0)) revert MissingKey();
        _register(id, Role.User, hospital, msg.sender, BlsPop.verify(blsKey, pop, POP_DST), encryptionKey);
    }

    /// @notice The hospital's data-owner key (X25519), set or replaced by the hospital's admin.
    function setOwnerKey(bytes32 hospital, bytes32 ownerKey) external {
        _onlyHospitalAdmin(hospital);
        if (ownerKey == bytes32(0)) revert MissingKey();
        hospitalOwnerKey[hospital] = ownerKey;
        emit OwnerKeySet(hospital, ownerKey);
    }

    /// @notice A new key epoch for a party: its hospital's admin (or a consortium admin for nodes).
    /// @param x25519Key nodes: the new handshake key; users: the new encryption key; gateways: ignored.
    function rotateKey(bytes32 id, bytes calldata blsKey, bytes calldata pop, bytes32 x25519Key) external {
        Entry storage e = _existing(id);
        if (!e.active) revert NotActive(id);
        _onlyManager(e);
        bytes memory key = BlsPop.verify(blsKey, pop, POP_DST);
        _useKey(key);
        e.blsKey = key;
        bool hasX = e.role == Role.Node || e.role == Role.User;
        if (hasX) {
            if (x25519Key == bytes32(0)) revert MissingKey();
            e.x25519Key = x25519Key;
        }
        e.epoch += 1;
        emit KeyRotated(id, e.epoch, key, hasX ? x25519Key : bytes32(0));
    }

    function revoke(bytes32 id) external {
        Entry storage e = _existing(id);
        if (!e.active) revert NotActive(id);
        _onlyManager(e);
        e.active = false;
        emit PartyRevoked(id, e.epoch);
    }

    /// @notice Everything the handshake and ingest need about a party, in one call.
    function getEntry(bytes32 id) external view returns (Role role, bool active, uint32 epoch, address operator, bytes32 hospital, bytes32 x25519Key, bytes memory blsKey) {
        Entry storage e = entries[id];
        return (e.role, e.active, e.epoch, e.operator, e.hospital, e.x25519Key, e.blsKey);
    }

    /// @notice Cheap checks for the anchor contract.
    function isActiveNodeOperator(address operator) external view returns (bool) {
        bytes32 id = nodeOfOperator[operator];
        return id != bytes32(0) && entries[id].active;
    }

    function isActiveGateway(bytes32 id) external view returns (bool) {
        Entry storage e = entries[id];
        return e.role == Role.Gateway && e.active;
    }

    function isActiveUser(bytes32 id) external view returns (bool) {
        Entry storage e = entries[id];
        return e.role == Role.User && e.active;
    }

    function _register(bytes32 id, Role role, bytes32 hospital, address operator, bytes memory blsKey, bytes32 x25519Key) private {
        if (id == bytes32(0)) revert EmptyId();
        if (entries[id].role != Role.None) revert AlreadyRegistered(id);
        _useKey(blsKey);
        entries[id] = Entry({role: role, active: true, epoch: 1, operator: operator, hospital: hospital, x25519Key: x25519Key, blsKey: blsKey});
        emit PartyRegistered(id, role, hospital, operator, blsKey, x25519Key);
    }

    function _useKey(bytes memory blsKey) private {
        bytes32 h = keccak256(blsKey);
        if (blsKeyUsed[h]) revert KeyAlreadyUsed();
        blsKeyUsed[h] = true;
    }

    function _existing(bytes32 id) private view returns (Entry storage e) {
        e = entries[id];
        if (e.role == Role.None) revert UnknownParty(id);
    }

    function _onlyHospitalAdmin(bytes32 hospital) private view {
        address a = hospitalAdmin[hospital];
        if (a == address(0)) revert UnknownHospital(hospital);
        if (a != msg.sender) revert NotHospitalAdmin(hospital, msg.sender);
    }

    function _onlyManager(Entry storage e) private view {
        if (e.role == Role.Node) {
            _checkRole(CONSORTIUM_ADMIN);
        } else if (hospitalAdmin[e.hospital] != msg.sender && !hasRole(CONSORTIUM_ADMIN, msg.sender)) {
            revert NotHospitalAdmin(e.hospital, msg.sender);
        }
    }
}
