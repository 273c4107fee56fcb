// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IOsmSource {
    function peek() external view returns (bytes32, bool);
}

/// A price source for the OSM, written for this project behind the DSValue interface (dapphub ds-value
/// value.sol: peek, read, poke, void; wards only may write). Stands in for the oracle medianizer.
contract DSValue {
    mapping(address => uint256) public wards;
    bool has;
    bytes32 val;

    modifier auth() {
        require(wards[msg.sender] == 1, "DSValue/not-authorized");
        _;
    }

    constructor() {
        wards[msg.sender] = 1;
    }

    function rely(address usr) external auth { wards[usr] = 1; }

    function peek() external view returns (bytes32, bool) {
        return (val, has);
    }

    function read() external view returns (bytes32) {
        require(has, "DSValue/no-value");
        return val;
    }

    function poke(bytes32 wut) external auth {
        val = wut;
        has = true;
    }

    function void() external auth {
        has = false;
    }
}

/// The Oracle Security Module for the devnet, written for this project behind the external ABI of makerdao/osm
/// src/osm.sol as deployed (the LibNote version with the `bud` whitelist and `peep`).
///
/// Two values: `cur` (what peek() and read() answer — what the Spotter pokes into the Vat and the Clipper
/// prices auctions from) and `nxt` (what peep() answers: the value the next poke() makes current). poke() may
/// run once `block.timestamp >= zzz + hop` (`pass()`): cur = nxt, nxt = the source's value, zzz = the current
/// time floored to a multiple of hop. peek, peep and read answer only whitelisted callers (`toll`: bud[caller]
/// == 1, else "OSM/contract-not-whitelisted"); zzz, hop, src and pass() are public.
///
/// Devnet only: devSet(cur, nxt) writes both values at once (wards only) and sets zzz as a poke at this block
/// would, so a test can set the current and the next price without waiting an hour between two pokes.
contract OSM {
    mapping(address => uint256) public wards;
    uint256 public stopped;
    address public src;
    uint16 public hop = 3600;
    uint64 public zzz;

    struct Feed {
        uint128 val;
        uint128 has;
    }

    Feed cur;
    Feed nxt;

    mapping(address => uint256) public bud;

    event LogValue(bytes32 val);

    modifier auth() {
        require(wards[msg.sender] == 1, "OSM/not-authorized");
        _;
    }

    modifier toll() {
        require(bud[msg.sender] == 1, "OSM/contract-not-whitelisted");
        _;
    }

    modifier stoppable() {
        require(stopped == 0, "OSM/is-stopped");
        _;
    }

    constructor(address src_) {
        wards[msg.sender] = 1;
        src = src_;
    }

    function rely(address usr) external auth { wards[usr] = 1; }
    function deny(address usr) external auth { wards[usr] = 0; }
    function stop() external auth { stopped = 1; }
    function start() external auth { stopped = 0; }
    function change(address src_) external auth { src = src_; }

    function _prev(uint256 ts) internal view returns (uint64) {
        require(hop != 0, "OSM/hop-is-zero");
        return uint64(ts - (ts % hop));
    }

    function step(uint16 ts) external auth {
        require(ts > 0, "OSM/ts-is-zero");
        hop = ts;
    }

    function void() external auth {
        cur = nxt = Feed(0, 0);
        stopped = 1;
    }

    function pass() public view returns (bool ok) {
        return block.timestamp >= zzz + hop;
    }

    function poke() external stoppable {
        require(pass(), "OSM/not-passed");
        (bytes32 wut, bool ok) = IOsmSource(src).peek();
        if (ok) {
            cur = nxt;
            nxt = Feed(uint128(uint256(wut)), 1);
            zzz = _prev(block.timestamp);
            emit LogValue(bytes32(uint256(cur.val)));
        }
    }

    function peek() external view toll returns (bytes32, bool) {
        return (bytes32(uint256(cur.val)), cur.has == 1);
    }

    function peep() external view toll returns (bytes32, bool) {
        return (bytes32(uint256(nxt.val)), nxt.has == 1);
    }

    function read() external view toll returns (bytes32) {
        require(cur.has == 1, "OSM/no-current-value");
        return bytes32(uint256(cur.val));
    }

    function kiss(address a) external auth {
        require(a != address(0), "OSM/no-contract-0");
        bud[a] = 1;
    }

    function diss(address a) external auth {
        bud[a] = 0;
    }

    function devSet(uint128 curVal, uint128 nxtVal) external auth {
        cur = Feed(curVal, 1);
        nxt = Feed(nxtVal, 1);
        zzz = _prev(block.timestamp);
        emit LogValue(bytes32(uint256(curVal)));
    }
}
