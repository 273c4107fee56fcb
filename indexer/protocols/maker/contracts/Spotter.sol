// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface ISpotterVat {
    function file(bytes32 ilk, bytes32 what, uint256 data) external;
}

interface IPip {
    function peek() external returns (bytes32, bool);
}

/// The Spotter for the devnet, written for this project behind the external ABI of makerdao/dss src/spot.sol.
///
/// poke(ilk) reads the price feed's *current* value (`pip.peek()`, for an OSM that is `cur`, not `nxt`) and files
/// the ilk's spot in the Vat: spot = rdiv(rdiv(val * 10**9, par), mat) with rdiv(x, y) = x * 10**27 / y (both
/// floored), or 0 when the feed says it has no value. val [wad], par [ray], mat [ray], spot [ray].
contract Spotter {
    mapping(address => uint256) public wards;

    struct Ilk {
        address pip;  // Price feed
        uint256 mat;  // Liquidation ratio [ray]
    }

    mapping(bytes32 => Ilk) public ilks;
    address public vat;
    uint256 public par;  // ref per dai [ray]
    uint256 public live;

    uint256 constant ONE = 10 ** 27;

    event Poke(bytes32 ilk, bytes32 val, uint256 spot);

    modifier auth() {
        require(wards[msg.sender] == 1, "Spotter/not-authorized");
        _;
    }

    constructor(address vat_) {
        wards[msg.sender] = 1;
        vat = vat_;
        par = ONE;
        live = 1;
    }

    function rely(address usr) external auth { wards[usr] = 1; }
    function deny(address usr) external auth { wards[usr] = 0; }

    function _rdiv(uint256 x, uint256 y) internal pure returns (uint256) {
        return x * ONE / y;
    }

    function file(bytes32 ilk, bytes32 what, address pip_) external auth {
        require(live == 1, "Spotter/not-live");
        if (what == "pip") ilks[ilk].pip = pip_;
        else revert("Spotter/file-unrecognized-param");
    }

    function file(bytes32 what, uint256 data) external auth {
        require(live == 1, "Spotter/not-live");
        if (what == "par") par = data;
        else revert("Spotter/file-unrecognized-param");
    }

    function file(bytes32 ilk, bytes32 what, uint256 data) external auth {
        require(live == 1, "Spotter/not-live");
        if (what == "mat") ilks[ilk].mat = data;
        else revert("Spotter/file-unrecognized-param");
    }

    function poke(bytes32 ilk) external {
        (bytes32 val, bool has) = IPip(ilks[ilk].pip).peek();
        uint256 spot = has ? _rdiv(_rdiv(uint256(val) * 10 ** 9, par), ilks[ilk].mat) : 0;
        ISpotterVat(vat).file(ilk, "spot", spot);
        emit Poke(ilk, val, spot);
    }

    function cage() external auth {
        live = 0;
    }
}
