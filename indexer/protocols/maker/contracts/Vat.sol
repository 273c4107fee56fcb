// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// The CDP engine for the devnet, written for this project behind the external ABI of makerdao/dss src/vat.sol
/// as deployed on Ethereum (the verified source of MCD_VAT, dss v1.0: every state-changing function carries the
/// `note` modifier; the repository's later head dropped it, the deployed contract did not).
///
/// Units (vat.sol's own comments): ink, art, Art, gem [wad, 1e18]; rate, spot [ray, 1e27]; line, Line, dust,
/// dai, sin, debt, vice [rad, 1e45 = wad * ray].
///
/// Kept, rule for rule: frob's checks in their order (live, ilk initialised, ceilings only when drawing, safe
/// `art * rate <= ink * spot` unless the urn only gets safer, consent of u / v / w, dust unless art is 0),
/// fork, grab (what Dog.bark calls), heal, suck, fold (what Jug.drip calls), slip / flux / move, hope / nope,
/// file of spot / line / dust / Line, init, cage. Solidity 0.8's checked arithmetic reverts where the
/// deployed contract's add / sub / mul helpers revert.
///
/// LogNote: an anonymous event with four topics — the selector left-aligned in a word, then the first three
/// 32-byte words of calldata (for frob: the ilk, the urn u, the gem source v) — and the first 224 bytes of
/// calldata as data; emitted after the function body, as the deployed `note` modifier does.
contract Vat {
    mapping(address => uint256) public wards;
    mapping(address => mapping(address => uint256)) public can;

    struct Ilk {
        uint256 Art;   // Total normalised debt     [wad]
        uint256 rate;  // Accumulated rates         [ray]
        uint256 spot;  // Price with safety margin  [ray]
        uint256 line;  // Debt ceiling              [rad]
        uint256 dust;  // Urn debt floor            [rad]
    }

    struct Urn {
        uint256 ink;   // Locked collateral         [wad]
        uint256 art;   // Normalised debt           [wad]
    }

    mapping(bytes32 => Ilk) public ilks;
    mapping(bytes32 => mapping(address => Urn)) public urns;
    mapping(bytes32 => mapping(address => uint256)) public gem;  // [wad]
    mapping(address => uint256) public dai;                      // [rad]
    mapping(address => uint256) public sin;                      // [rad]

    uint256 public debt;  // [rad]
    uint256 public vice;  // [rad]
    uint256 public Line;  // [rad]
    uint256 public live;

    event LogNote(bytes4 indexed sig, bytes32 indexed arg1, bytes32 indexed arg2, bytes32 indexed arg3,
                  bytes data) anonymous;

    modifier note() {
        _;
        assembly {
            let ptr := mload(0x40)
            mstore(ptr, 0x20)
            mstore(add(ptr, 0x20), 224)
            calldatacopy(add(ptr, 0x40), 0, 224)
            log4(ptr, 288, shl(224, shr(224, calldataload(0))), calldataload(4), calldataload(36), calldataload(68))
        }
    }

    modifier auth() {
        require(wards[msg.sender] == 1, "Vat/not-authorized");
        _;
    }

    constructor() {
        wards[msg.sender] = 1;
        live = 1;
    }

    function rely(address usr) external note auth { require(live == 1, "Vat/not-live"); wards[usr] = 1; }
    function deny(address usr) external note auth { require(live == 1, "Vat/not-live"); wards[usr] = 0; }
    function hope(address usr) external note { can[msg.sender][usr] = 1; }
    function nope(address usr) external note { can[msg.sender][usr] = 0; }

    function _wish(address bit, address usr) internal view returns (bool) {
        return bit == usr || can[bit][usr] == 1;
    }

    // --- signed arithmetic: reverts exactly where the deployed add / sub / mul(uint, int) do
    function _add(uint256 x, int256 y) internal pure returns (uint256 z) {
        unchecked { z = x + uint256(y); }
        require(y >= 0 || z <= x);
        require(y <= 0 || z >= x);
    }

    function _sub(uint256 x, int256 y) internal pure returns (uint256 z) {
        unchecked { z = x - uint256(y); }
        require(y <= 0 || z <= x);
        require(y >= 0 || z >= x);
    }

    function _mul(uint256 x, int256 y) internal pure returns (int256 z) {
        require(int256(x) >= 0);
        z = int256(x) * y;
    }

    // --- administration
    function init(bytes32 ilk) external note auth {
        require(ilks[ilk].rate == 0, "Vat/ilk-already-init");
        ilks[ilk].rate = 10 ** 27;
    }

    function file(bytes32 what, uint256 data) external note auth {
        require(live == 1, "Vat/not-live");
        if (what == "Line") Line = data;
        else revert("Vat/file-unrecognized-param");
    }

    function file(bytes32 ilk, bytes32 what, uint256 data) external note auth {
        require(live == 1, "Vat/not-live");
        if (what == "spot") ilks[ilk].spot = data;
        else if (what == "line") ilks[ilk].line = data;
        else if (what == "dust") ilks[ilk].dust = data;
        else revert("Vat/file-unrecognized-param");
    }

    function cage() external note auth {
        live = 0;
    }

    // --- fungibility
    function slip(bytes32 ilk, address usr, int256 wad) external note auth {
        gem[ilk][usr] = _add(gem[ilk][usr], wad);
    }

    function flux(bytes32 ilk, address src, address dst, uint256 wad) external note {
        require(_wish(src, msg.sender), "Vat/not-allowed");
        gem[ilk][src] -= wad;
        gem[ilk][dst] += wad;
    }

    function move(address src, address dst, uint256 rad) external note {
        require(_wish(src, msg.sender), "Vat/not-allowed");
        dai[src] -= rad;
        dai[dst] += rad;
    }

    // --- CDP manipulation
    function frob(bytes32 i, address u, address v, address w, int256 dink, int256 dart) external note {
        require(live == 1, "Vat/not-live");
        Urn memory urn = urns[i][u];
        Ilk memory ilk = ilks[i];
        require(ilk.rate != 0, "Vat/ilk-not-init");

        urn.ink = _add(urn.ink, dink);
        urn.art = _add(urn.art, dart);
        ilk.Art = _add(ilk.Art, dart);

        int256 dtab = _mul(ilk.rate, dart);
        uint256 tab = ilk.rate * urn.art;
        debt = _add(debt, dtab);

        require(dart <= 0 || (ilk.Art * ilk.rate <= ilk.line && debt <= Line), "Vat/ceiling-exceeded");
        require((dart <= 0 && dink >= 0) || tab <= urn.ink * ilk.spot, "Vat/not-safe");
        require((dart <= 0 && dink >= 0) || _wish(u, msg.sender), "Vat/not-allowed-u");
        require(dink <= 0 || _wish(v, msg.sender), "Vat/not-allowed-v");
        require(dart >= 0 || _wish(w, msg.sender), "Vat/not-allowed-w");
        require(urn.art == 0 || tab >= ilk.dust, "Vat/dust");

        gem[i][v] = _sub(gem[i][v], dink);
        dai[w] = _add(dai[w], dtab);

        urns[i][u] = urn;
        ilks[i] = ilk;
    }

    function fork(bytes32 ilk, address src, address dst, int256 dink, int256 dart) external note {
        Urn storage u = urns[ilk][src];
        Urn storage v = urns[ilk][dst];
        Ilk storage i = ilks[ilk];

        u.ink = _sub(u.ink, dink);
        u.art = _sub(u.art, dart);
        v.ink = _add(v.ink, dink);
        v.art = _add(v.art, dart);

        uint256 utab = u.art * i.rate;
        uint256 vtab = v.art * i.rate;

        require(_wish(src, msg.sender) && _wish(dst, msg.sender), "Vat/not-allowed");
        require(utab <= u.ink * i.spot, "Vat/not-safe-src");
        require(vtab <= v.ink * i.spot, "Vat/not-safe-dst");
        require(utab >= i.dust || u.art == 0, "Vat/dust-src");
        require(vtab >= i.dust || v.art == 0, "Vat/dust-dst");
    }

    function grab(bytes32 i, address u, address v, address w, int256 dink, int256 dart) external note auth {
        Urn storage urn = urns[i][u];
        Ilk storage ilk = ilks[i];

        urn.ink = _add(urn.ink, dink);
        urn.art = _add(urn.art, dart);
        ilk.Art = _add(ilk.Art, dart);

        int256 dtab = _mul(ilk.rate, dart);

        gem[i][v] = _sub(gem[i][v], dink);
        sin[w] = _sub(sin[w], dtab);
        vice = _sub(vice, dtab);
    }

    // --- settlement
    function heal(uint256 rad) external note {
        address u = msg.sender;
        sin[u] -= rad;
        dai[u] -= rad;
        vice -= rad;
        debt -= rad;
    }

    function suck(address u, address v, uint256 rad) external note auth {
        sin[u] += rad;
        dai[v] += rad;
        vice += rad;
        debt += rad;
    }

    // --- rates
    function fold(bytes32 i, address u, int256 rate) external note auth {
        require(live == 1, "Vat/not-live");
        Ilk storage ilk = ilks[i];
        ilk.rate = _add(ilk.rate, rate);
        int256 rad = _mul(ilk.Art, rate);
        dai[u] = _add(dai[u], rad);
        debt = _add(debt, rad);
    }
}
