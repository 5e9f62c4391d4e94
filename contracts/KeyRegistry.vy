# pragma version 0.4.3
# pragma optimize gas
# pragma evm-version prague
"""
@title KeyRegistry (v2)
@notice A public key registry: names (ENS-style namehash nodes) own an
        unbounded history of key records (SSH, OpenPGP, X.509). The key
        material and the proof of possession travel in calldata and are logged
        in KeyPublished; state keeps one packed word per record, keyed by
        (node, commitment), with commitment = keccak256(uint8(key_type) ++ material).
        Every event is folded into a running digest (`event_digest()`), so a
        reader proves it has seen every log. Top-level names are registrable
        domains only (a public suffix plus one label, proven against a
        committed Public Suffix List), or, in a private deployment, whatever
        the admin and its registrars create.
        docs/CONTRACT.md documents the interface, every storage slot and bit
        layout, and the digest encoding; docs/GAS.md the gas figures.
@dev Storage layout (Vyper allocates slots in declaration order; a HashMap
     value lives at keccak256(slot ++ key), nested maps apply it per key):
     slot 0 _events                       count (bits 216-255) | head (0-215)
     slot 1 _suffix_root                  Merkle root of the suffix list
     slot 2 _admin                        admin address
     slot 3 _registrars[addr]             1 = may register (private mode)
     slot 4 _names[node]                  owner (0-159) | record count (160-191)
                                          | approval epoch (192-223) | person (224)
                                          | renounced (225) | name length (226-233)
     slot 5 _parents[node]                parent node
     slot 6 _operators[node][operator]    approval epoch + 1 (0 = not approved)
     slot 7 _records[node][commitment]    key_type (0-1) | purposes (2-8) | durable (9)
                                          | reason + 1 (10-13) | valid_from (16-55)
                                          | valid_until (56-95) | published_at (96-135)
                                          | revoked_at (136-175) | index (176-207)
     slot 8 _durable[node][index]         commitment of a durable record
     slot 9 _stores[node][commitment]     data contract holding durable material
     slot 10 _attestations[node][commitment][attester]  expires (0-63) | attested_at (64-103)
     slot 11 _policies[node][commitment][attester]      policy hash (when not zero)
     slot 12 _blocked[node][attester]     1 = blocked by the subject
"""

MAX_MATERIAL: public(constant(uint256)) = 12288
MAX_PROOF: public(constant(uint256)) = 2048
MAX_REVOCATION: public(constant(uint256)) = 4096
MAX_TIME: public(constant(uint256)) = 2**40  # valid_from / valid_until limit (year 36812)
MAX_BATCH: public(constant(uint256)) = 128  # commitments / attesters per batch view
MAX_PATH: constant(uint256) = 32  # suffix-list Merkle proof depth

# _events: count in the top 40 bits, the head (low 216 bits of the last fold) below
EV_COUNT_SHIFT: constant(uint256) = 216
EV_HEAD_MASK: constant(uint256) = 2**216 - 1

# _names bit layout
OWNER_MASK: constant(uint256) = 2**160 - 1
COUNT_SHIFT: constant(uint256) = 160
COUNT_MASK: constant(uint256) = 2**32 - 1
COUNT_ONE: constant(uint256) = 2**160
EPOCH_SHIFT: constant(uint256) = 192
EPOCH_ONE: constant(uint256) = 2**192
EPOCH_FIELD: constant(uint256) = (2**32 - 1) * 2**192
PERSON_BIT: constant(uint256) = 2**224
RENOUNCED_BIT: constant(uint256) = 2**225
LEN_SHIFT: constant(uint256) = 226  # 8 bits: the DNS name's text length (<= 253)
MAX_NAME: constant(uint256) = 253

# _records bit layout
REASON_SHIFT: constant(uint256) = 10
FROM_SHIFT: constant(uint256) = 16
UNTIL_SHIFT: constant(uint256) = 56
PUBLISHED_SHIFT: constant(uint256) = 96
REVOKED_SHIFT: constant(uint256) = 136
INDEX_SHIFT: constant(uint256) = 176
TIME_MASK: constant(uint256) = 2**40 - 1

# event topics (keccak256 of the signature), the first word of every event hash
T_DEPLOYED: constant(bytes32) = keccak256("RegistryDeployed(address,bool,bytes32)")
T_ADMIN: constant(bytes32) = keccak256("AdminChanged(address,address)")
T_ROOT: constant(bytes32) = keccak256("SuffixRootSet(bytes32,address)")
T_REGISTRAR: constant(bytes32) = keccak256("RegistrarSet(address,bool)")
T_REGISTERED: constant(bytes32) = keccak256("NameRegistered(bytes32,bytes32,address,string,bool)")
T_TRANSFERRED: constant(bytes32) = keccak256("OwnershipTransferred(bytes32,address,address)")
T_RENOUNCED: constant(bytes32) = keccak256("ChildRenounced(bytes32,bytes32)")
T_OPERATOR: constant(bytes32) = keccak256("OperatorSet(bytes32,address,address,bool)")
T_PUBLISHED: constant(bytes32) = keccak256(
    "KeyPublished(bytes32,uint256,bytes32,uint8,uint16,uint64,uint64,bool,bytes,bytes)"
)
T_REVOKED: constant(bytes32) = keccak256("KeyRevoked(bytes32,uint256,bytes32,uint8,bytes)")
T_ROTATED: constant(bytes32) = keccak256("KeyRotated(bytes32,uint256,uint256)")
T_ATTESTED: constant(bytes32) = keccak256("Attested(bytes32,bytes32,bytes32,uint256,bytes32,uint64)")
T_WITHDRAWN: constant(bytes32) = keccak256("AttestationWithdrawn(bytes32,bytes32,bytes32,uint256)")
T_BLOCKED: constant(bytes32) = keccak256("AttesterBlocked(bytes32,bytes32,bool)")

# Durable store: initcode = PUSH2 size ++ INIT_BODY (deploys the code after it), then
# STORE_HEADER (11 bytes: return code[11:]) ++ material. Reading it is a static call.
INIT_BODY: constant(Bytes[7]) = b"\x80\x60\x0a\x5f\x39\x5f\xf3"
STORE_CODE: constant(Bytes[11]) = b"\x60\x0b\x38\x03\x80\x60\x0b\x5f\x39\x5f\xf3"
STORE_HEADER: constant(uint256) = 11


struct Record:
    commitment: bytes32
    index: uint256
    key_type: uint8  # 0: no such record under the name
    purposes: uint16
    status: uint8
    reason: uint8
    durable: bool
    valid_from: uint64
    valid_until: uint64
    published_at: uint64
    revoked_at: uint64


struct Attestation:
    attester: bytes32
    policy_hash: bytes32
    expires: uint64
    attested_at: uint64  # 0: this attester has no attestation on the record
    blocked: bool  # the subject blocked the attester: the attestation does not count


struct SuffixProof:
    labels: uint256  # labels of the deepest suffix-list node on the name's path (0 = root)
    next: bytes32  # that node's leaf: the next key in the sorted list (0 after the last)
    value: uint256  # that node's leaf value: suffix labels of the node itself | of names below << 8
    index: uint256
    path: DynArray[bytes32, MAX_PATH]
    gap_key: bytes32  # a leaf with gap_key < (the next longer suffix) < gap_next
    gap_next: bytes32
    gap_value: uint256
    gap_index: uint256
    gap_path: DynArray[bytes32, MAX_PATH]


event RegistryDeployed:
    admin: indexed(address)
    private_mode: bool
    suffix_root: bytes32

event AdminChanged:
    previous: indexed(address)
    admin: indexed(address)

event SuffixRootSet:
    root: indexed(bytes32)
    admin: indexed(address)

event RegistrarSet:
    registrar: indexed(address)
    allowed: bool

event NameRegistered:
    node: indexed(bytes32)
    parent: indexed(bytes32)
    owner: indexed(address)
    label: String[253]
    person: bool

event OwnershipTransferred:
    node: indexed(bytes32)
    previous: indexed(address)
    owner: indexed(address)

event ChildRenounced:
    node: indexed(bytes32)
    parent: indexed(bytes32)

event OperatorSet:
    node: indexed(bytes32)
    owner: indexed(address)
    operator: indexed(address)
    approved: bool

event KeyPublished:
    node: indexed(bytes32)
    index: indexed(uint256)
    commitment: indexed(bytes32)
    key_type: uint8
    purposes: uint16
    valid_from: uint64
    valid_until: uint64
    durable: bool
    material: Bytes[MAX_MATERIAL]
    proof: Bytes[MAX_PROOF]

event KeyRevoked:
    node: indexed(bytes32)
    index: indexed(uint256)
    commitment: indexed(bytes32)
    reason: uint8
    revocation: Bytes[MAX_REVOCATION]

event KeyRotated:
    node: indexed(bytes32)
    old_index: indexed(uint256)
    new_index: indexed(uint256)

event Attested:
    node: indexed(bytes32)
    commitment: indexed(bytes32)
    attester: indexed(bytes32)
    index: uint256
    policy_hash: bytes32
    expires: uint64

event AttestationWithdrawn:
    node: indexed(bytes32)
    commitment: indexed(bytes32)
    attester: indexed(bytes32)
    index: uint256

event AttesterBlocked:
    node: indexed(bytes32)
    attester: indexed(bytes32)
    blocked: bool


PRIVATE_MODE: public(immutable(bool))

_events: uint256
_suffix_root: bytes32
_admin: address
_registrars: HashMap[address, bool]
_names: HashMap[bytes32, uint256]
_parents: HashMap[bytes32, bytes32]
_operators: HashMap[bytes32, HashMap[address, uint256]]
_records: HashMap[bytes32, HashMap[bytes32, uint256]]
_durable: HashMap[bytes32, HashMap[uint256, bytes32]]
_stores: HashMap[bytes32, HashMap[bytes32, address]]
_attestations: HashMap[bytes32, HashMap[bytes32, HashMap[bytes32, uint256]]]
_policies: HashMap[bytes32, HashMap[bytes32, HashMap[bytes32, bytes32]]]
_blocked: HashMap[bytes32, HashMap[bytes32, bool]]


@deploy
def __init__(suffix_root: bytes32, private_mode: bool, admin: address):
    """
    @param suffix_root Merkle root of the suffix list (ignored in private mode; may be zero there)
    @param private_mode Only the admin and its registrars create top-level names
    @param admin Who may update the suffix root, name registrars and hand the role on
    """
    PRIVATE_MODE = private_mode
    self._suffix_root = suffix_root
    self._admin = admin
    log RegistryDeployed(admin=admin, private_mode=private_mode, suffix_root=suffix_root)
    self._fold(keccak256(abi_encode(T_DEPLOYED, block.number, admin, private_mode, suffix_root)))


# ---------------------------------------------------------------- internals


@internal
def _fold(e: bytes32):
    """Fold one event hash into the running digest: head' = keccak256(word ++ e), count + 1."""
    s: uint256 = self._events
    h: uint256 = convert(keccak256(concat(convert(s, bytes32), e)), uint256)
    self._events = (((s >> EV_COUNT_SHIFT) + 1) << EV_COUNT_SHIFT) | (h & EV_HEAD_MASK)


@internal
@pure
def _owner_of(packed: uint256) -> address:
    return convert(convert(packed & OWNER_MASK, uint160), address)


@internal
@view
def _approved(node: bytes32, packed: uint256, who: address) -> bool:
    return self._operators[node][who] == ((packed >> EPOCH_SHIFT) & COUNT_MASK) + 1


@internal
@view
def _auth_keys(node: bytes32) -> uint256:
    """Owner or approved operator of `node`; returns the packed name slot."""
    packed: uint256 = self._names[node]
    assert packed != 0, "KeyRegistry: name not found"
    if msg.sender != self._owner_of(packed):
        assert self._approved(node, packed, msg.sender), "KeyRegistry: not owner or operator"
    return packed


@internal
@view
def _may_manage(node: bytes32) -> bool:
    """Whether the caller is the owner or an approved operator of `node` (no revert)."""
    packed: uint256 = self._names[node]
    if packed == 0:
        return False
    return msg.sender == self._owner_of(packed) or self._approved(node, packed, msg.sender)


@internal
@view
def _auth_owner(node: bytes32) -> uint256:
    packed: uint256 = self._names[node]
    assert packed != 0, "KeyRegistry: name not found"
    assert msg.sender == self._owner_of(packed), "KeyRegistry: not owner"
    return packed


@internal
@view
def _auth_parent(node: bytes32) -> bytes32:
    """The caller owns the parent of `node` (a child name); returns the parent."""
    assert self._names[node] != 0, "KeyRegistry: name not found"
    parent: bytes32 = self._parents[node]
    assert parent != empty(bytes32), "KeyRegistry: top-level name"
    assert msg.sender == self._owner_of(self._names[parent]), "KeyRegistry: not parent owner"
    return parent


@internal
@view
def _auth_admin():
    assert msg.sender == self._admin, "KeyRegistry: not admin"


@internal
def _set_owner(node: bytes32, packed: uint256, new_owner: address):
    """New owner; the approval epoch moves on, so every operator approval ends."""
    epoch: uint256 = (((packed >> EPOCH_SHIFT) & COUNT_MASK) + 1) & COUNT_MASK
    self._names[node] = (
        (packed & ~OWNER_MASK & ~EPOCH_FIELD)
        | convert(convert(new_owner, uint160), uint256)
        | (epoch << EPOCH_SHIFT)
    )
    log OwnershipTransferred(node=node, previous=self._owner_of(packed), owner=new_owner)
    self._fold(keccak256(abi_encode(T_TRANSFERRED, block.number, node, self._owner_of(packed), new_owner)))


@internal
@pure
def _is_dns_char(c: uint256) -> bool:
    return (c >= 97 and c <= 122) or (c >= 48 and c <= 57) or c == 45


@internal
@pure
def _char(b: Bytes[253], i: uint256) -> uint256:
    return convert(convert(slice(b, i, 1), bytes1), uint256)


@internal
@pure
def _dns_label_hash(b: Bytes[253], start: uint256, end: uint256) -> bytes32:
    """keccak256 of b[start:end] after checking it is a DNS label (chars checked by the caller)."""
    assert end > start and end - start <= 63, "KeyRegistry: invalid name"
    assert self._char(b, start) != 45 and self._char(b, end - 1) != 45, "KeyRegistry: invalid name"
    return keccak256(slice(b, start, end - start))


@internal
@pure
def _is_number(b: Bytes[253], start: uint256, end: uint256) -> bool:
    """WHATWG URL "ends in a number": the label is all digits, or 0x followed by hex digits."""
    if end <= start:
        return False  # an empty label: refused as an invalid name
    hexa: bool = end - start >= 2 and self._char(b, start) == 48 and self._char(b, start + 1) == 120
    first: uint256 = start
    if hexa:
        first = start + 2
    for i: uint256 in range(first, end, bound=253):
        c: uint256 = self._char(b, i)
        if c >= 48 and c <= 57:
            continue
        if hexa and c >= 97 and c <= 102:
            continue
        return False
    return True


@internal
@pure
def _label_hash(label: String[64], person: bool) -> bytes32:
    """Check a child label (DNS label, or person local part) and return its labelhash."""
    b: Bytes[64] = convert(label, Bytes[64])
    n: uint256 = len(b)
    assert n > 0, "KeyRegistry: invalid name"
    prev: uint256 = 0
    for i: uint256 in range(n, bound=64):
        c: uint256 = convert(convert(slice(b, i, 1), bytes1), uint256)
        if person:
            # [a-z0-9._+-], no leading/trailing '.', no '..'
            assert self._is_dns_char(c) or c == 95 or c == 43 or c == 46, "KeyRegistry: invalid name"
            assert not (c == 46 and (i == 0 or i == n - 1 or prev == 46)), "KeyRegistry: invalid name"
        else:
            assert self._is_dns_char(c), "KeyRegistry: invalid name"
            assert not (c == 45 and (i == 0 or i == n - 1)), "KeyRegistry: invalid name"
        prev = c
    if person:
        return keccak256(concat(b"@", b))
    assert n <= 63, "KeyRegistry: invalid name"
    return keccak256(b)


@internal
@view
def _suffix_leaf(
    key: bytes32, nxt: bytes32, val: uint256, index: uint256, path: DynArray[bytes32, MAX_PATH]
) -> bool:
    """Whether leaf (key, next, value) sits at `index` of the committed suffix-list tree."""
    h: bytes32 = keccak256(concat(b"\x00", key, nxt, convert(val, bytes32)))
    i: uint256 = index
    for sibling: bytes32 in path:
        if i & 1 == 1:
            h = keccak256(concat(sibling, h))
        else:
            h = keccak256(concat(h, sibling))
        i = i >> 1
    return i == 0 and h == self._suffix_root


@internal
@pure
def _check_key(key_type: uint8, purposes: uint16, valid_from: uint64, valid_until: uint64, size: uint256):
    assert key_type >= 1 and key_type <= 3, "KeyRegistry: bad key type"
    assert purposes != 0 and purposes < 128, "KeyRegistry: bad purposes"
    assert valid_until == 0 or valid_until > valid_from, "KeyRegistry: bad validity"
    assert convert(valid_from, uint256) < MAX_TIME, "KeyRegistry: bad validity"
    assert convert(valid_until, uint256) < MAX_TIME, "KeyRegistry: bad validity"
    assert size != 0, "KeyRegistry: empty material"


@internal
def _add_record(
    node: bytes32,
    packed: uint256,
    c: bytes32,
    key_type: uint8,
    purposes: uint16,
    valid_from: uint64,
    valid_until: uint64,
    durable: bool,
) -> uint256:
    """Record `c` under `node` (refusing a key recorded there before); returns its index."""
    old: uint256 = self._records[node][c]
    if old != 0:
        assert (old >> REASON_SHIFT) & 15 == 0, "KeyRegistry: key revoked"
        raise "KeyRegistry: key already active"
    index: uint256 = (packed >> COUNT_SHIFT) & COUNT_MASK
    assert index < COUNT_MASK, "KeyRegistry: too many records"
    m: uint256 = (
        convert(key_type, uint256)
        | (convert(purposes, uint256) << 2)
        | (convert(valid_from, uint256) << FROM_SHIFT)
        | (convert(valid_until, uint256) << UNTIL_SHIFT)
        | ((block.timestamp & TIME_MASK) << PUBLISHED_SHIFT)
        | (index << INDEX_SHIFT)
    )
    if durable:
        m |= 1 << 9
    self._records[node][c] = m
    self._names[node] = packed + COUNT_ONE
    return index


@internal
def _revoke(node: bytes32, c: bytes32, reason: uint8) -> uint256:
    """Mark record `c` of `node` revoked; returns its index (the caller logs)."""
    word: uint256 = self._records[node][c]
    assert word != 0, "KeyRegistry: no such record"
    assert reason <= 10 and reason != 6 and reason != 7 and reason != 8, "KeyRegistry: bad reason"
    assert (word >> REASON_SHIFT) & 15 == 0, "KeyRegistry: already revoked"
    self._records[node][c] = (
        word
        | ((convert(reason, uint256) + 1) << REASON_SHIFT)
        | ((block.timestamp & TIME_MASK) << REVOKED_SHIFT)
    )
    return word >> INDEX_SHIFT


@internal
@view
def _record(node: bytes32, c: bytes32) -> Record:
    m: uint256 = self._records[node][c]
    r: Record = Record(
        commitment=c,
        index=m >> INDEX_SHIFT,
        key_type=convert(m & 3, uint8),
        purposes=convert((m >> 2) & 127, uint16),
        status=0,
        reason=0,
        durable=(m >> 9) & 1 == 1,
        valid_from=convert((m >> FROM_SHIFT) & TIME_MASK, uint64),
        valid_until=convert((m >> UNTIL_SHIFT) & TIME_MASK, uint64),
        published_at=convert((m >> PUBLISHED_SHIFT) & TIME_MASK, uint64),
        revoked_at=convert((m >> REVOKED_SHIFT) & TIME_MASK, uint64),
    )
    reason1: uint256 = (m >> REASON_SHIFT) & 15
    if reason1 != 0:
        r.status = 2
        r.reason = convert(reason1 - 1, uint8)
    elif convert(r.valid_from, uint256) > block.timestamp:
        r.status = 3
    elif r.valid_until != 0 and convert(r.valid_until, uint256) <= block.timestamp:
        r.status = 1
    return r


@internal
@view
def _attestation(node: bytes32, c: bytes32, attester: bytes32) -> Attestation:
    info: uint256 = self._attestations[node][c][attester]
    return Attestation(
        attester=attester,
        policy_hash=self._policies[node][c][attester],
        expires=convert(info & (2**64 - 1), uint64),
        attested_at=convert((info >> 64) & TIME_MASK, uint64),
        blocked=self._blocked[node][attester],
    )


# ---------------------------------------------------------------- administration


@external
def set_admin(new_admin: address):
    """@notice Hand the admin role on (the zero address gives it up for good)."""
    self._auth_admin()
    log AdminChanged(previous=msg.sender, admin=new_admin)
    self._fold(keccak256(abi_encode(T_ADMIN, block.number, msg.sender, new_admin)))
    self._admin = new_admin


@external
def set_suffix_root(root: bytes32):
    """@notice Commit a new snapshot of the Public Suffix List (admin only)."""
    self._auth_admin()
    self._suffix_root = root
    log SuffixRootSet(root=root, admin=msg.sender)
    self._fold(keccak256(abi_encode(T_ROOT, block.number, root, msg.sender)))


@external
def set_registrar(registrar: address, allowed: bool):
    """@notice Let `registrar` create top-level names in a private registry (admin only)."""
    self._auth_admin()
    assert registrar != empty(address), "KeyRegistry: zero address"
    self._registrars[registrar] = allowed
    log RegistrarSet(registrar=registrar, allowed=allowed)
    self._fold(keccak256(abi_encode(T_REGISTRAR, block.number, registrar, allowed)))


# ---------------------------------------------------------------- names


@external
def register(name: String[253], suffix: SuffixProof) -> bytes32:
    """
    @notice Register a top-level name. Public mode: anyone, first come first
            served, but only a registrable domain (a public suffix plus one
            label), proven against the committed suffix list. Private mode: the
            admin and its registrars, any name whose suffixes are all unregistered.
            Either way the last label may not be a number (no IP literals).
    """
    b: Bytes[253] = convert(name, Bytes[253])
    n: uint256 = len(b)
    assert n > 0, "KeyRegistry: invalid name"
    private: bool = PRIVATE_MODE
    if private:
        assert msg.sender == self._admin or self._registrars[msg.sender], "KeyRegistry: not registrar"
    node: bytes32 = empty(bytes32)
    end: uint256 = n
    labels: uint256 = 0
    deep: bytes32 = empty(bytes32)  # node of the suffix with `suffix.labels` labels
    beyond: bytes32 = empty(bytes32)  # node of the suffix one label longer
    for k: uint256 in range(n, bound=253):
        i: uint256 = n - 1 - k
        c: uint256 = self._char(b, i)
        if c == 46:
            if labels == 0:
                assert not self._is_number(b, i + 1, end), "KeyRegistry: numeric top-level label"
            node = keccak256(concat(node, self._dns_label_hash(b, i + 1, end)))
            labels += 1
            if labels == suffix.labels:
                deep = node
            elif labels == suffix.labels + 1:
                beyond = node
            if private:
                assert self._names[node] == 0, "KeyRegistry: parent registered"
            end = i
        else:
            assert self._is_dns_char(c), "KeyRegistry: invalid name"
    if labels == 0:
        assert not self._is_number(b, 0, end), "KeyRegistry: numeric top-level label"
    node = keccak256(concat(node, self._dns_label_hash(b, 0, end)))
    labels += 1
    if labels == suffix.labels:
        deep = node
    elif labels == suffix.labels + 1:
        beyond = node
    if not private:
        # the deepest suffix-list node on the name's path, and the next longer suffix not in it
        assert labels > 1, "KeyRegistry: not a registrable domain"
        assert suffix.labels <= labels, "KeyRegistry: bad suffix proof"
        assert self._suffix_leaf(
            deep, suffix.next, suffix.value, suffix.index, suffix.path
        ), "KeyRegistry: bad suffix proof"
        suffix_len: uint256 = suffix.value & 255
        if suffix.labels < labels:
            assert convert(suffix.gap_key, uint256) < convert(beyond, uint256), "KeyRegistry: bad suffix proof"
            assert suffix.gap_next == empty(bytes32) or convert(beyond, uint256) < convert(
                suffix.gap_next, uint256
            ), "KeyRegistry: bad suffix proof"
            assert self._suffix_leaf(
                suffix.gap_key, suffix.gap_next, suffix.gap_value, suffix.gap_index, suffix.gap_path
            ), "KeyRegistry: bad suffix proof"
            suffix_len = (suffix.value >> 8) & 255
        assert suffix_len + 1 == labels, "KeyRegistry: not a registrable domain"
    assert self._names[node] == 0, "KeyRegistry: name taken"
    self._names[node] = convert(convert(msg.sender, uint160), uint256) | (n << LEN_SHIFT)
    log NameRegistered(node=node, parent=empty(bytes32), owner=msg.sender, label=name, person=False)
    self._fold(
        keccak256(
            abi_encode(
                T_REGISTERED, block.number, node, empty(bytes32), msg.sender, keccak256(name), False
            )
        )
    )
    return node


@external
def assign(parent: bytes32, label: String[64], person: bool, owner: address) -> bytes32:
    """@notice Create `label` under `parent` (parent owner only) and give it to `owner`."""
    ppacked: uint256 = self._names[parent]
    assert ppacked != 0, "KeyRegistry: name not found"
    assert msg.sender == self._owner_of(ppacked), "KeyRegistry: not parent owner"
    assert ppacked & PERSON_BIT == 0, "KeyRegistry: person names have no children"
    assert owner != empty(address), "KeyRegistry: zero address"
    node: bytes32 = keccak256(concat(parent, self._label_hash(label, person)))
    packed: uint256 = convert(convert(owner, uint160), uint256)
    if person:
        packed |= PERSON_BIT
    else:
        # the whole name (label "." parent) stays a valid DNS name: <= 253 bytes,
        # as registry/names.py requires (a person's local part is not counted)
        size: uint256 = len(label) + 1 + ((ppacked >> LEN_SHIFT) & 255)
        assert size <= MAX_NAME, "KeyRegistry: invalid name"
        packed |= size << LEN_SHIFT
    assert self._names[node] == 0, "KeyRegistry: name taken"
    self._names[node] = packed
    self._parents[node] = parent
    log NameRegistered(node=node, parent=parent, owner=owner, label=label, person=person)
    self._fold(
        keccak256(abi_encode(T_REGISTERED, block.number, node, parent, owner, keccak256(label), person))
    )
    return node


@external
def reclaim(node: bytes32):
    """@notice The parent's owner takes a child name back, unless it was renounced."""
    self._auth_parent(node)
    packed: uint256 = self._names[node]
    assert packed & RENOUNCED_BIT == 0, "KeyRegistry: renounced"
    self._set_owner(node, packed, msg.sender)


@external
def renounce(node: bytes32):
    """@notice The parent's owner gives up reclaim over a child name, for good."""
    parent: bytes32 = self._auth_parent(node)
    self._names[node] = self._names[node] | RENOUNCED_BIT
    log ChildRenounced(node=node, parent=parent)
    self._fold(keccak256(abi_encode(T_RENOUNCED, block.number, node, parent)))


@external
def transfer(node: bytes32, new_owner: address):
    """@notice Give a name to `new_owner`; every operator approval of the name ends."""
    packed: uint256 = self._auth_owner(node)
    assert new_owner != empty(address), "KeyRegistry: zero address"
    self._set_owner(node, packed, new_owner)


@external
def set_operator(node: bytes32, operator: address, approved: bool):
    """@notice Approve (or not) `operator` to manage the keys and attestations of `node`
    until the name changes hands."""
    packed: uint256 = self._auth_owner(node)
    assert operator != empty(address), "KeyRegistry: zero address"
    approval: uint256 = 0
    if approved:
        approval = ((packed >> EPOCH_SHIFT) & COUNT_MASK) + 1
    self._operators[node][operator] = approval
    log OperatorSet(node=node, owner=msg.sender, operator=operator, approved=approved)
    self._fold(keccak256(abi_encode(T_OPERATOR, block.number, node, msg.sender, operator, approved)))


# ---------------------------------------------------------------- keys


@external
def publish(
    node: bytes32,
    key_type: uint8,
    purposes: uint16,
    valid_from: uint64,
    valid_until: uint64,
    material: Bytes[MAX_MATERIAL],
    proof: Bytes[MAX_PROOF],
    durable: bool,
) -> uint256:
    """@notice Publish a key record under `node`; returns its index."""
    # (kept inline, like rotate's copy: passing the Bytes to an internal function
    # would copy them again and push every later variable up in memory)
    packed: uint256 = self._auth_keys(node)
    self._check_key(key_type, purposes, valid_from, valid_until, len(material))
    c: bytes32 = keccak256(concat(convert(key_type, bytes1), material))
    index: uint256 = self._add_record(node, packed, c, key_type, purposes, valid_from, valid_until, durable)
    if durable:
        self._durable[node][index] = c
        self._stores[node][c] = raw_create(
            concat(
                b"\x61",
                convert(convert(len(material) + STORE_HEADER, uint16), bytes2),
                INIT_BODY,
                STORE_CODE,
                material,
            )
        )
    log KeyPublished(
        node=node,
        index=index,
        commitment=c,
        key_type=key_type,
        purposes=purposes,
        valid_from=valid_from,
        valid_until=valid_until,
        durable=durable,
        material=material,
        proof=proof,
    )
    self._fold(
        keccak256(
            abi_encode(
                T_PUBLISHED, block.number, node, index, c, key_type, purposes, valid_from,
                valid_until, durable, keccak256(material), keccak256(proof),
            )
        )
    )
    return index


@external
def revoke(node: bytes32, commitment: bytes32, reason: uint8, revocation: Bytes[MAX_REVOCATION]):
    """
    @notice Revoke record `commitment` of `node`, permanently, with an RFC 5280
            reason code and optionally the key's own revocation (for OpenPGP the
            revocation signature, which the event carries to keyservers).
    """
    self._auth_keys(node)
    index: uint256 = self._revoke(node, commitment, reason)
    log KeyRevoked(node=node, index=index, commitment=commitment, reason=reason, revocation=revocation)
    self._fold(
        keccak256(
            abi_encode(T_REVOKED, block.number, node, index, commitment, reason, keccak256(revocation))
        )
    )


@external
def rotate(
    node: bytes32,
    old: bytes32,
    reason: uint8,
    revocation: Bytes[MAX_REVOCATION],
    key_type: uint8,
    purposes: uint16,
    valid_from: uint64,
    valid_until: uint64,
    material: Bytes[MAX_MATERIAL],
    proof: Bytes[MAX_PROOF],
    durable: bool,
) -> uint256:
    """@notice Revoke record `old` and publish its successor in one transaction."""
    packed: uint256 = self._auth_keys(node)
    old_index: uint256 = self._revoke(node, old, reason)
    log KeyRevoked(node=node, index=old_index, commitment=old, reason=reason, revocation=revocation)
    self._fold(
        keccak256(abi_encode(T_REVOKED, block.number, node, old_index, old, reason, keccak256(revocation)))
    )
    self._check_key(key_type, purposes, valid_from, valid_until, len(material))
    c: bytes32 = keccak256(concat(convert(key_type, bytes1), material))
    index: uint256 = self._add_record(node, packed, c, key_type, purposes, valid_from, valid_until, durable)
    if durable:
        self._durable[node][index] = c
        self._stores[node][c] = raw_create(
            concat(
                b"\x61",
                convert(convert(len(material) + STORE_HEADER, uint16), bytes2),
                INIT_BODY,
                STORE_CODE,
                material,
            )
        )
    log KeyPublished(
        node=node,
        index=index,
        commitment=c,
        key_type=key_type,
        purposes=purposes,
        valid_from=valid_from,
        valid_until=valid_until,
        durable=durable,
        material=material,
        proof=proof,
    )
    self._fold(
        keccak256(
            abi_encode(
                T_PUBLISHED, block.number, node, index, c, key_type, purposes, valid_from,
                valid_until, durable, keccak256(material), keccak256(proof),
            )
        )
    )
    log KeyRotated(node=node, old_index=old_index, new_index=index)
    self._fold(keccak256(abi_encode(T_ROTATED, block.number, node, old_index, index)))
    return index


# ---------------------------------------------------------------- attestations


@external
def attest(attester: bytes32, node: bytes32, commitment: bytes32, policy_hash: bytes32, expires: uint64):
    """@notice `attester` vouches for record `commitment` of `node`; attesting again updates it."""
    self._auth_keys(attester)
    assert self._names[node] != 0, "KeyRegistry: name not found"
    word: uint256 = self._records[node][commitment]
    assert word != 0, "KeyRegistry: no such record"
    assert (word >> REASON_SHIFT) & 15 == 0, "KeyRegistry: already revoked"
    assert not self._blocked[node][attester], "KeyRegistry: attester blocked"
    assert expires == 0 or convert(expires, uint256) > block.timestamp, "KeyRegistry: bad expiry"
    self._attestations[node][commitment][attester] = convert(expires, uint256) | (
        (block.timestamp & TIME_MASK) << 64
    )
    if policy_hash != self._policies[node][commitment][attester]:
        self._policies[node][commitment][attester] = policy_hash
    index: uint256 = word >> INDEX_SHIFT
    log Attested(
        node=node, commitment=commitment, attester=attester, index=index, policy_hash=policy_hash,
        expires=expires,
    )
    self._fold(
        keccak256(
            abi_encode(T_ATTESTED, block.number, node, commitment, attester, index, policy_hash, expires)
        )
    )


@external
def withdraw(attester: bytes32, node: bytes32, commitment: bytes32):
    """
    @notice Withdraw the attestation `attester` made on record `commitment` of
            `node`. The attester's owner or operator may, and so may the owner or
            an operator of `node` (the subject).
    """
    if not self._may_manage(node):
        self._auth_keys(attester)
    assert self._attestations[node][commitment][attester] != 0, "KeyRegistry: no such attestation"
    self._attestations[node][commitment][attester] = 0
    if self._policies[node][commitment][attester] != empty(bytes32):
        self._policies[node][commitment][attester] = empty(bytes32)
    index: uint256 = self._records[node][commitment] >> INDEX_SHIFT
    log AttestationWithdrawn(node=node, commitment=commitment, attester=attester, index=index)
    self._fold(keccak256(abi_encode(T_WITHDRAWN, block.number, node, commitment, attester, index)))


@external
def block_attester(node: bytes32, attester: bytes32, blocked: bool):
    """
    @notice The owner or an operator of `node` blocks (or unblocks) `attester`:
            a blocked attester cannot attest the name's records, and its
            attestations on them stop counting (views flag them `blocked`).
    """
    self._auth_keys(node)
    self._blocked[node][attester] = blocked
    log AttesterBlocked(node=node, attester=attester, blocked=blocked)
    self._fold(keccak256(abi_encode(T_BLOCKED, block.number, node, attester, blocked)))


# ---------------------------------------------------------------- views


@external
@view
def event_digest() -> bytes32:
    """@notice The running digest word: event count (top 40 bits) | head (low 216 bits)."""
    return convert(self._events, bytes32)


@external
@view
def event_count() -> uint256:
    return self._events >> EV_COUNT_SHIFT


@external
@view
def suffix_root() -> bytes32:
    return self._suffix_root


@external
@view
def admin() -> address:
    return self._admin


@external
@view
def is_registrar(who: address) -> bool:
    return self._registrars[who]


@external
@view
def owner(node: bytes32) -> address:
    return self._owner_of(self._names[node])


@external
@view
def parent(node: bytes32) -> bytes32:
    return self._parents[node]


@external
@view
def renounced(node: bytes32) -> bool:
    return self._names[node] & RENOUNCED_BIT != 0


@external
@view
def is_person(node: bytes32) -> bool:
    return self._names[node] & PERSON_BIT != 0


@external
@view
def is_operator(node: bytes32, operator: address) -> bool:
    packed: uint256 = self._names[node]
    return packed != 0 and self._approved(node, packed, operator)


@external
@view
def record_count(node: bytes32) -> uint256:
    """@notice Records ever published under `node` (revoked ones included)."""
    return (self._names[node] >> COUNT_SHIFT) & COUNT_MASK


@external
@view
def record(node: bytes32, commitment: bytes32) -> Record:
    assert self._records[node][commitment] != 0, "KeyRegistry: no such record"
    return self._record(node, commitment)


@external
@view
def records(node: bytes32, commitments: DynArray[bytes32, MAX_BATCH]) -> DynArray[Record, MAX_BATCH]:
    """@notice The records of `node` with these commitments, status by block time
    (key_type 0 where the name has no such record)."""
    out: DynArray[Record, MAX_BATCH] = []
    for c: bytes32 in commitments:
        out.append(self._record(node, c))
    return out


@external
@view
def durable_at(node: bytes32, index: uint256) -> bytes32:
    """@notice The commitment of record `index` if it is durable (zero otherwise: take it
    from the record's KeyPublished event)."""
    return self._durable[node][index]


@external
@view
def material(node: bytes32, commitment: bytes32) -> Bytes[MAX_MATERIAL]:
    assert self._records[node][commitment] != 0, "KeyRegistry: no such record"
    store: address = self._stores[node][commitment]
    assert store != empty(address), "KeyRegistry: not durable"
    return raw_call(store, b"", max_outsize=MAX_MATERIAL, is_static_call=True)


@external
@view
def attestation(node: bytes32, commitment: bytes32, attester: bytes32) -> Attestation:
    return self._attestation(node, commitment, attester)


@external
@view
def attestations(
    node: bytes32, commitment: bytes32, attesters: DynArray[bytes32, MAX_BATCH]
) -> DynArray[Attestation, MAX_BATCH]:
    """@notice These attesters' attestations on one record (attested_at 0: none)."""
    out: DynArray[Attestation, MAX_BATCH] = []
    for a: bytes32 in attesters:
        out.append(self._attestation(node, commitment, a))
    return out


@external
@view
def is_blocked(node: bytes32, attester: bytes32) -> bool:
    return self._blocked[node][attester]
