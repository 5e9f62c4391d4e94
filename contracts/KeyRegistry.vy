# pragma version 0.4.3
# pragma optimize gas
# pragma evm-version prague
"""
@title KeyRegistry
@notice A public key registry: names (ENS-style namehash nodes) own bounded
        lists of key records (SSH, OpenPGP, X.509). The key material and the
        proof of possession travel in calldata and are logged in KeyPublished;
        state keeps the commitment keccak256(uint8(key_type) ++ material) and
        packed metadata. See docs/CONTRACT.md for the interface and docs/GAS.md
        for the storage layout and its gas figures.
@dev Storage layout (Vyper does not pack, so packing is by hand):
     _names[node]     owner (bits 0-159) | record count (160-165) | person (166)
                      | renounced (167) | name length in bytes (168-175, DNS names)
                      | 80-bit bloom filter of commitments (176-255)
     _meta[node][p]   two records per slot, 128 bits each: key_type (0-1) |
                      purposes (2-8) | durable (9) | reason + 1 (10-13, 0 = not
                      revoked) | valid_from (14-51) | valid_until (52-89) |
                      revoked_at (90-127). Page 0 is written at registration,
                      so the first two records of a name only rewrite a slot.
     _commits[node][i] the commitment of record i (the one new slot per publish).
     _stores[node][i]  durable records: the data contract holding the material.
"""

MAX_RECORDS: public(constant(uint256)) = 32
MAX_MATERIAL: public(constant(uint256)) = 12288
MAX_PROOF: public(constant(uint256)) = 2048
MAX_ATTESTATIONS: public(constant(uint256)) = 16
MAX_TIME: public(constant(uint256)) = 2**38  # valid_from / valid_until / revoked_at limit

# _names bit layout
OWNER_MASK: constant(uint256) = 2**160 - 1
COUNT_SHIFT: constant(uint256) = 160
COUNT_ONE: constant(uint256) = 2**160
PERSON_BIT: constant(uint256) = 2**166
RENOUNCED_BIT: constant(uint256) = 2**167
LEN_SHIFT: constant(uint256) = 168  # 8 bits: the DNS name's text length (<= 253)
MAX_NAME: constant(uint256) = 253
BLOOM_SHIFT: constant(uint256) = 176
BLOOM_BITS: constant(uint256) = 80

# _meta bit layout (within one 128-bit half)
HALF_MASK: constant(uint256) = 2**128 - 1
TIME_MASK: constant(uint256) = 2**38 - 1
PAGE_SENTINEL: constant(uint256) = 1

# Durable store: initcode = PUSH2 size ++ INIT_BODY (deploys the code after it), then
# STORE_HEADER (11 bytes: return code[11:]) ++ material. Reading it is a static call.
INIT_BODY: constant(Bytes[7]) = b"\x80\x60\x0a\x5f\x39\x5f\xf3"
STORE_CODE: constant(Bytes[11]) = b"\x60\x0b\x38\x03\x80\x60\x0b\x5f\x39\x5f\xf3"
STORE_HEADER: constant(uint256) = 11


struct Record:
    commitment: bytes32
    key_type: uint8
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
    attested_at: uint64


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

event KeyRotated:
    node: indexed(bytes32)
    old_index: indexed(uint256)
    new_index: indexed(uint256)

event Attested:
    node: indexed(bytes32)
    index: indexed(uint256)
    attester: indexed(bytes32)
    policy_hash: bytes32
    expires: uint64

event AttestationWithdrawn:
    node: indexed(bytes32)
    index: indexed(uint256)
    attester: indexed(bytes32)


_names: HashMap[bytes32, uint256]
_parents: HashMap[bytes32, bytes32]
_operators: HashMap[bytes32, HashMap[address, HashMap[address, bool]]]
_commits: HashMap[bytes32, bytes32[MAX_RECORDS]]
_meta: HashMap[bytes32, uint256[16]]
_stores: HashMap[bytes32, address[MAX_RECORDS]]
# attestations: per (node, index) a compact list of attesters, and per attester
# position + 1 (bits 0-7) | expires (8-71) | attested_at (72-135), and the policy hash
_att_count: HashMap[bytes32, HashMap[uint256, uint256]]
_att_list: HashMap[bytes32, HashMap[uint256, bytes32[MAX_ATTESTATIONS]]]
_att_info: HashMap[bytes32, HashMap[uint256, HashMap[bytes32, uint256]]]
_att_policy: HashMap[bytes32, HashMap[uint256, HashMap[bytes32, bytes32]]]


# ---------------------------------------------------------------- internals


@internal
@pure
def _owner_of(packed: uint256) -> address:
    return convert(convert(packed & OWNER_MASK, uint160), address)


@internal
@pure
def _with_owner(packed: uint256, new_owner: address) -> uint256:
    return (packed & ~OWNER_MASK) | convert(convert(new_owner, uint160), uint256)


@internal
@view
def _auth_keys(node: bytes32) -> uint256:
    """Owner or approved operator of `node`; returns the packed name slot."""
    packed: uint256 = self._names[node]
    assert packed != 0, "KeyRegistry: name not found"
    owner: address = self._owner_of(packed)
    if msg.sender != owner:
        assert self._operators[node][owner][msg.sender], "KeyRegistry: not owner or operator"
    return packed


@internal
@view
def _may_manage(node: bytes32) -> bool:
    """Whether the caller is the owner or an approved operator of `node` (no revert)."""
    packed: uint256 = self._names[node]
    if packed == 0:
        return False
    owner: address = self._owner_of(packed)
    return msg.sender == owner or self._operators[node][owner][msg.sender]


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
        assert n <= 64, "KeyRegistry: invalid name"
        return keccak256(concat(b"@", b))
    assert n <= 63, "KeyRegistry: invalid name"
    return keccak256(b)


@internal
@pure
def _bloom(c: bytes32) -> uint256:
    h: uint256 = convert(c, uint256)
    return (1 << (BLOOM_SHIFT + h % BLOOM_BITS)) | (1 << (BLOOM_SHIFT + (h >> 8) % BLOOM_BITS))


@internal
@view
def _half(node: bytes32, index: uint256) -> uint256:
    return (self._meta[node][index >> 1] >> ((index & 1) << 7)) & HALF_MASK


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
    """Append record `c` to `node` (refusing a duplicate or revoked key); returns its index."""
    index: uint256 = (packed >> COUNT_SHIFT) & 63
    assert index < MAX_RECORDS, "KeyRegistry: too many records"
    bloom: uint256 = self._bloom(c)
    if packed & bloom == bloom:
        # maybe seen before: scan this name's (at most MAX_RECORDS) commitments
        for i: uint256 in range(index, bound=MAX_RECORDS):
            if self._commits[node][i] == c:
                assert (self._half(node, i) >> 10) & 15 == 0, "KeyRegistry: key revoked"
                raise "KeyRegistry: key already active"
    self._commits[node][index] = c
    m: uint256 = (
        convert(key_type, uint256)
        | (convert(purposes, uint256) << 2)
        | (convert(valid_from, uint256) << 14)
        | (convert(valid_until, uint256) << 52)
    )
    if durable:
        m |= 1 << 9
    page: uint256 = index >> 1
    sh: uint256 = (index & 1) << 7
    self._meta[node][page] = (self._meta[node][page] & ~(HALF_MASK << sh)) | (m << sh)
    self._names[node] = (packed + COUNT_ONE) | bloom
    return index


@internal
def _revoke(node: bytes32, packed: uint256, index: uint256, reason: uint8):
    assert index < (packed >> COUNT_SHIFT) & 63, "KeyRegistry: no such record"
    assert reason <= 10 and reason != 6 and reason != 7 and reason != 8, "KeyRegistry: bad reason"
    page: uint256 = index >> 1
    sh: uint256 = (index & 1) << 7
    word: uint256 = self._meta[node][page]
    assert (word >> (sh + 10)) & 15 == 0, "KeyRegistry: already revoked"
    word |= ((convert(reason, uint256) + 1) << (sh + 10)) | (min(block.timestamp, TIME_MASK) << (sh + 90))
    self._meta[node][page] = word
    log KeyRevoked(node=node, index=index, commitment=self._commits[node][index], reason=reason)


@internal
@view
def _record(node: bytes32, index: uint256) -> Record:
    m: uint256 = self._half(node, index)
    r: Record = Record(
        commitment=self._commits[node][index],
        key_type=convert(m & 3, uint8),
        purposes=convert((m >> 2) & 127, uint16),
        status=0,
        reason=0,
        durable=(m >> 9) & 1 == 1,
        valid_from=convert((m >> 14) & TIME_MASK, uint64),
        valid_until=convert((m >> 52) & TIME_MASK, uint64),
        published_at=0,
        revoked_at=convert((m >> 90) & TIME_MASK, uint64),
    )
    reason1: uint256 = (m >> 10) & 15
    if reason1 != 0:
        r.status = 2
        r.reason = convert(reason1 - 1, uint8)
    elif convert(r.valid_from, uint256) > block.timestamp:
        r.status = 3
    elif r.valid_until != 0 and convert(r.valid_until, uint256) <= block.timestamp:
        r.status = 1
    return r


# ---------------------------------------------------------------- names


@external
def register(name: String[253]) -> bytes32:
    """
    @notice Register a top-level name (first come, first served). Refused if the
            name or any suffix of it (a parent domain) is registered.
    """
    b: Bytes[253] = convert(name, Bytes[253])
    n: uint256 = len(b)
    assert n > 0, "KeyRegistry: invalid name"
    node: bytes32 = empty(bytes32)
    end: uint256 = n
    for k: uint256 in range(n, bound=253):
        i: uint256 = n - 1 - k
        c: uint256 = self._char(b, i)
        if c == 46:
            node = keccak256(concat(node, self._dns_label_hash(b, i + 1, end)))
            assert self._names[node] == 0, "KeyRegistry: parent registered"
            end = i
        else:
            assert self._is_dns_char(c), "KeyRegistry: invalid name"
    node = keccak256(concat(node, self._dns_label_hash(b, 0, end)))
    assert self._names[node] == 0, "KeyRegistry: name taken"
    self._names[node] = convert(convert(msg.sender, uint160), uint256) | (n << LEN_SHIFT)
    self._meta[node][0] = PAGE_SENTINEL
    log NameRegistered(node=node, parent=empty(bytes32), owner=msg.sender, label=name, person=False)
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
    self._meta[node][0] = PAGE_SENTINEL
    log NameRegistered(node=node, parent=parent, owner=owner, label=label, person=person)
    return node


@external
def reclaim(node: bytes32):
    """@notice The parent's owner takes a child name back, unless it was renounced."""
    self._auth_parent(node)
    packed: uint256 = self._names[node]
    assert packed & RENOUNCED_BIT == 0, "KeyRegistry: renounced"
    previous: address = self._owner_of(packed)
    self._names[node] = self._with_owner(packed, msg.sender)
    log OwnershipTransferred(node=node, previous=previous, owner=msg.sender)


@external
def renounce(node: bytes32):
    """@notice The parent's owner gives up reclaim over a child name, for good."""
    parent: bytes32 = self._auth_parent(node)
    self._names[node] = self._names[node] | RENOUNCED_BIT
    log ChildRenounced(node=node, parent=parent)


@external
def transfer(node: bytes32, new_owner: address):
    """@notice Give a name to `new_owner`; operators approved by the old owner stop applying."""
    packed: uint256 = self._auth_owner(node)
    assert new_owner != empty(address), "KeyRegistry: zero address"
    self._names[node] = self._with_owner(packed, new_owner)
    log OwnershipTransferred(node=node, previous=msg.sender, owner=new_owner)


@external
def set_operator(node: bytes32, operator: address, approved: bool):
    """@notice Approve (or not) `operator` to manage the keys and attestations of `node`."""
    self._auth_owner(node)
    assert operator != empty(address), "KeyRegistry: zero address"
    self._operators[node][msg.sender][operator] = approved
    log OperatorSet(node=node, owner=msg.sender, operator=operator, approved=approved)


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
        self._stores[node][index] = raw_create(
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
    return index


@external
def revoke(node: bytes32, index: uint256, reason: uint8):
    """@notice Revoke a key record, permanently, with an RFC 5280 reason code."""
    packed: uint256 = self._auth_keys(node)
    self._revoke(node, packed, index, reason)


@external
def rotate(
    node: bytes32,
    old_index: uint256,
    reason: uint8,
    key_type: uint8,
    purposes: uint16,
    valid_from: uint64,
    valid_until: uint64,
    material: Bytes[MAX_MATERIAL],
    proof: Bytes[MAX_PROOF],
    durable: bool,
) -> uint256:
    """@notice Revoke record `old_index` and publish its successor in one transaction."""
    packed: uint256 = self._auth_keys(node)
    self._revoke(node, packed, old_index, reason)
    self._check_key(key_type, purposes, valid_from, valid_until, len(material))
    c: bytes32 = keccak256(concat(convert(key_type, bytes1), material))
    index: uint256 = self._add_record(node, packed, c, key_type, purposes, valid_from, valid_until, durable)
    if durable:
        self._stores[node][index] = raw_create(
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
    log KeyRotated(node=node, old_index=old_index, new_index=index)
    return index


# ---------------------------------------------------------------- attestations


@external
def attest(attester: bytes32, node: bytes32, index: uint256, policy_hash: bytes32, expires: uint64):
    """@notice `attester` vouches for record `index` of `node`; attesting again updates it."""
    self._auth_keys(attester)
    packed: uint256 = self._names[node]
    assert packed != 0, "KeyRegistry: name not found"
    assert index < (packed >> COUNT_SHIFT) & 63, "KeyRegistry: no such record"
    assert (self._half(node, index) >> 10) & 15 == 0, "KeyRegistry: already revoked"
    assert expires == 0 or convert(expires, uint256) > block.timestamp, "KeyRegistry: bad expiry"
    info: uint256 = self._att_info[node][index][attester]
    pos1: uint256 = info & 255
    if pos1 == 0:
        n: uint256 = self._att_count[node][index]
        assert n < MAX_ATTESTATIONS, "KeyRegistry: too many attestations"
        self._att_list[node][index][n] = attester
        self._att_count[node][index] = n + 1
        pos1 = n + 1
    self._att_info[node][index][attester] = (
        pos1 | (convert(expires, uint256) << 8) | (block.timestamp << 72)
    )
    if policy_hash != self._att_policy[node][index][attester]:
        self._att_policy[node][index][attester] = policy_hash
    log Attested(node=node, index=index, attester=attester, policy_hash=policy_hash, expires=expires)


@external
def withdraw(attester: bytes32, node: bytes32, index: uint256):
    """
    @notice Withdraw the attestation `attester` made on record `index` of `node`.
            The attester's owner or operator may, and so may the owner or an
            operator of `node` (so nobody can fill a record's attestation slots
            with attestations its owner cannot clear).
    """
    if not self._may_manage(node):
        self._auth_keys(attester)
    info: uint256 = self._att_info[node][index][attester]
    assert info != 0, "KeyRegistry: no such attestation"
    pos: uint256 = (info & 255) - 1
    last: uint256 = self._att_count[node][index] - 1
    if pos != last:
        moved: bytes32 = self._att_list[node][index][last]
        self._att_list[node][index][pos] = moved
        self._att_info[node][index][moved] = (self._att_info[node][index][moved] & ~255) | (pos + 1)
    self._att_list[node][index][last] = empty(bytes32)
    self._att_count[node][index] = last
    self._att_info[node][index][attester] = 0
    self._att_policy[node][index][attester] = empty(bytes32)
    log AttestationWithdrawn(node=node, index=index, attester=attester)


# ---------------------------------------------------------------- views


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
    return self._operators[node][self._owner_of(self._names[node])][operator]


@external
@view
def record_count(node: bytes32) -> uint256:
    return (self._names[node] >> COUNT_SHIFT) & 63


@external
@view
def records(node: bytes32) -> DynArray[Record, MAX_RECORDS]:
    out: DynArray[Record, MAX_RECORDS] = []
    for i: uint256 in range((self._names[node] >> COUNT_SHIFT) & 63, bound=MAX_RECORDS):
        out.append(self._record(node, i))
    return out


@external
@view
def record(node: bytes32, index: uint256) -> Record:
    assert index < (self._names[node] >> COUNT_SHIFT) & 63, "KeyRegistry: no such record"
    return self._record(node, index)


@external
@view
def attestations(node: bytes32, index: uint256) -> DynArray[Attestation, MAX_ATTESTATIONS]:
    out: DynArray[Attestation, MAX_ATTESTATIONS] = []
    for i: uint256 in range(self._att_count[node][index], bound=MAX_ATTESTATIONS):
        who: bytes32 = self._att_list[node][index][i]
        info: uint256 = self._att_info[node][index][who]
        out.append(
            Attestation(
                attester=who,
                policy_hash=self._att_policy[node][index][who],
                expires=convert((info >> 8) & (2**64 - 1), uint64),
                attested_at=convert((info >> 72) & (2**64 - 1), uint64),
            )
        )
    return out


@external
@view
def material(node: bytes32, index: uint256) -> Bytes[MAX_MATERIAL]:
    assert index < (self._names[node] >> COUNT_SHIFT) & 63, "KeyRegistry: no such record"
    store: address = self._stores[node][index]
    assert store != empty(address), "KeyRegistry: not durable"
    return raw_call(store, b"", max_outsize=MAX_MATERIAL, is_static_call=True)
