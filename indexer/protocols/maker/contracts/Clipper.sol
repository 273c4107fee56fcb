// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IClipSpotter {
    function ilks(bytes32) external view returns (address pip, uint256 mat);
    function par() external view returns (uint256);
}

interface IClipPip {
    function peek() external returns (bytes32, bool);
}

/// The collateral auction house for the devnet, written for this project behind the part of makerdao/dss
/// src/clip.sol that Dog.bark reaches: kick(tab, lot, usr, kpr) with its checks (only wards — the Dog — may kick;
/// the breaker `stopped` must be below 1; tab, lot and usr non-zero; the starting price top = rmul(feed price,
/// buf) from the OSM's *current* value, `pip.peek()`, must exist and be positive). The auction itself (take,
/// redo, the price curve, keeper incentives: tip and chip are 0 here) is left out: the devnet only needs to know
/// whether a liquidation starts.
contract Clipper {
    mapping(address => uint256) public wards;

    bytes32 public immutable ilk;
    address public immutable vat;
    address public spotter;
    address public dog;
    uint256 public buf;      // starting price multiplier [ray]
    uint256 public stopped;  // breaker level: kick needs stopped < 1
    uint256 public kicks;

    struct Sale {
        uint256 tab;  // [rad]
        uint256 lot;  // [wad]
        address usr;
        uint96 tic;
        uint256 top;  // [ray]
    }

    mapping(uint256 => Sale) public sales;

    uint256 constant BLN = 10 ** 9;
    uint256 constant RAY = 10 ** 27;

    event Kick(uint256 indexed id, uint256 top, uint256 tab, uint256 lot, address indexed usr, address indexed kpr,
               uint256 coin);

    modifier auth() {
        require(wards[msg.sender] == 1, "Clipper/not-authorized");
        _;
    }

    modifier isStopped(uint256 level) {
        require(stopped < level, "Clipper/stopped-incorrect");
        _;
    }

    constructor(address vat_, address spotter_, address dog_, bytes32 ilk_) {
        vat = vat_;
        spotter = spotter_;
        dog = dog_;
        ilk = ilk_;
        buf = RAY;
        wards[msg.sender] = 1;
    }

    function rely(address usr) external auth { wards[usr] = 1; }
    function deny(address usr) external auth { wards[usr] = 0; }

    function file(bytes32 what, uint256 data) external auth {
        if (what == "buf") buf = data;
        else if (what == "stopped") stopped = data;
        else revert("Clipper/file-unrecognized-param");
    }

    function _feedPrice() internal returns (uint256) {
        (address pip,) = IClipSpotter(spotter).ilks(ilk);
        (bytes32 val, bool has) = IClipPip(pip).peek();
        require(has, "Clipper/invalid-price");
        return uint256(val) * BLN * RAY / IClipSpotter(spotter).par();
    }

    function kick(uint256 tab, uint256 lot, address usr, address kpr) external auth isStopped(1) returns (uint256 id) {
        require(tab > 0, "Clipper/zero-tab");
        require(lot > 0, "Clipper/zero-lot");
        require(usr != address(0), "Clipper/zero-usr");
        id = ++kicks;
        uint256 top = _feedPrice() * buf / RAY;
        require(top > 0, "Clipper/zero-top-price");
        sales[id] = Sale(tab, lot, usr, uint96(block.timestamp), top);
        emit Kick(id, top, tab, lot, usr, kpr, 0);
    }
}
