# pragma version ~=0.4.0
# @title Counter fixture for the pysei real-client conformance suite
# @notice Storage (scalars + a HashMap), an event with indexed fields, and
#         asserts with reason strings (revert data `Error(string)`).

event Incremented:
    sender: indexed(address)
    by: uint256
    new_value: uint256

count: public(uint256)
limit: public(uint256)
owner: public(address)
contributions: public(HashMap[address, uint256])


@deploy
def __init__(limit: uint256):
    assert limit > 0, "Counter: zero limit"
    self.owner = msg.sender
    self.limit = limit


@external
def increment(by: uint256) -> uint256:
    assert by > 0, "Counter: increment must be positive"
    new_value: uint256 = self.count + by
    assert new_value <= self.limit, "Counter: limit exceeded"
    self.count = new_value
    self.contributions[msg.sender] += by
    log Incremented(sender=msg.sender, by=by, new_value=new_value)
    return new_value


@external
def reset():
    assert msg.sender == self.owner, "Counter: only owner"
    self.count = 0


@view
@external
def remaining() -> uint256:
    return self.limit - self.count
