# pragma version 0.4.3
# pragma optimize gas
# pragma evm-version prague
"""
@title TextRecordBaseline
@notice The gas-bench baseline: a minimal ENS-style text-record resolver. The
        owner of a node stores a key as text (authorized_keys line, armored
        OpenPGP, PEM) in state and the resolver logs it, as ENS resolvers'
        setText does. Not shipped; compiled by scripts/bench_gas.py.
"""

MAX_TEXT: constant(uint256) = 16384


event TextChanged:
    node: indexed(bytes32)
    key: String[64]
    value: String[MAX_TEXT]


owners: public(HashMap[bytes32, address])
texts: HashMap[bytes32, HashMap[String[64], String[MAX_TEXT]]]


@external
def claim(node: bytes32):
    assert self.owners[node] == empty(address), "TextRecordBaseline: taken"
    self.owners[node] = msg.sender


@external
def setText(node: bytes32, key: String[64], text_value: String[MAX_TEXT]):
    assert self.owners[node] == msg.sender, "TextRecordBaseline: not owner"
    self.texts[node][key] = text_value
    log TextChanged(node=node, key=key, value=text_value)


@external
@view
def text(node: bytes32, key: String[64]) -> String[MAX_TEXT]:
    return self.texts[node][key]
