// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IManagerVat {
    function urns(bytes32, address) external view returns (uint256, uint256);
    function hope(address) external;
    function flux(bytes32, address, address, uint256) external;
    function move(address, address, uint256) external;
    function frob(bytes32, address, address, address, int256, int256) external;
    function fork(bytes32, address, address, int256, int256) external;
}

/// One vault's urn in the Vat: a contract that lets its manager act on it (`vat.hope(manager)`), nothing else.
contract UrnHandler {
    constructor(address vat) {
        IManagerVat(vat).hope(msg.sender);
    }
}

/// The CDP manager for the devnet, written for this project behind the external ABI of makerdao/dss-cdp-manager
/// src/DssCdpManager.sol (the deployed version: urns, list, owns, ilks, first, last, count, cdpCan, urnCan).
///
/// open(ilk, usr) creates an UrnHandler (the vault's urn in the Vat), numbers the cdp (cdpi) and appends it to
/// usr's doubly linked list (first / last / count, list(cdp) = (prev, next)); give(cdp, dst) moves it to the end
/// of dst's list. frob / flux / move act on the cdp's urn for its owner or whoever the owner allowed. quit,
/// enter and shift (urn migrations through Vat.fork) are kept; the LibNote event of each call is left out.
contract DssCdpManager {
    address public vat;
    uint256 public cdpi;
    mapping(uint256 => address) public urns;
    mapping(uint256 => List) public list;
    mapping(uint256 => address) public owns;
    mapping(uint256 => bytes32) public ilks;

    mapping(address => uint256) public first;
    mapping(address => uint256) public last;
    mapping(address => uint256) public count;

    mapping(address => mapping(uint256 => mapping(address => uint256))) public cdpCan;
    mapping(address => mapping(address => uint256)) public urnCan;

    struct List {
        uint256 prev;
        uint256 next;
    }

    event NewCdp(address indexed usr, address indexed own, uint256 indexed cdp);

    modifier cdpAllowed(uint256 cdp) {
        require(msg.sender == owns[cdp] || cdpCan[owns[cdp]][cdp][msg.sender] == 1, "cdp-not-allowed");
        _;
    }

    modifier urnAllowed(address urn) {
        require(msg.sender == urn || urnCan[urn][msg.sender] == 1, "urn-not-allowed");
        _;
    }

    constructor(address vat_) {
        vat = vat_;
    }

    function cdpAllow(uint256 cdp, address usr, uint256 ok) external cdpAllowed(cdp) {
        cdpCan[owns[cdp]][cdp][usr] = ok;
    }

    function urnAllow(address usr, uint256 ok) external {
        urnCan[msg.sender][usr] = ok;
    }

    function open(bytes32 ilk, address usr) external returns (uint256) {
        require(usr != address(0), "usr-address-0");
        cdpi += 1;
        urns[cdpi] = address(new UrnHandler(vat));
        owns[cdpi] = usr;
        ilks[cdpi] = ilk;
        if (first[usr] == 0) first[usr] = cdpi;
        if (last[usr] != 0) {
            list[cdpi].prev = last[usr];
            list[last[usr]].next = cdpi;
        }
        last[usr] = cdpi;
        count[usr] += 1;
        emit NewCdp(msg.sender, usr, cdpi);
        return cdpi;
    }

    function give(uint256 cdp, address dst) external cdpAllowed(cdp) {
        require(dst != address(0), "dst-address-0");
        require(dst != owns[cdp], "dst-already-owner");
        address src = owns[cdp];
        List memory at = list[cdp];
        if (at.prev != 0) list[at.prev].next = at.next;
        if (at.next != 0) list[at.next].prev = at.prev;
        else last[src] = at.prev;
        if (first[src] == cdp) first[src] = at.next;
        count[src] -= 1;

        owns[cdp] = dst;
        list[cdp].prev = last[dst];
        list[cdp].next = 0;
        if (last[dst] != 0) list[last[dst]].next = cdp;
        if (first[dst] == 0) first[dst] = cdp;
        last[dst] = cdp;
        count[dst] += 1;
    }

    function frob(uint256 cdp, int256 dink, int256 dart) external cdpAllowed(cdp) {
        address urn = urns[cdp];
        IManagerVat(vat).frob(ilks[cdp], urn, urn, urn, dink, dart);
    }

    function flux(uint256 cdp, address dst, uint256 wad) external cdpAllowed(cdp) {
        IManagerVat(vat).flux(ilks[cdp], urns[cdp], dst, wad);
    }

    function move(uint256 cdp, address dst, uint256 rad) external cdpAllowed(cdp) {
        IManagerVat(vat).move(urns[cdp], dst, rad);
    }

    function quit(uint256 cdp, address dst) external cdpAllowed(cdp) urnAllowed(dst) {
        (uint256 ink, uint256 art) = IManagerVat(vat).urns(ilks[cdp], urns[cdp]);
        IManagerVat(vat).fork(ilks[cdp], urns[cdp], dst, int256(ink), int256(art));
    }

    function enter(address src, uint256 cdp) external urnAllowed(src) cdpAllowed(cdp) {
        (uint256 ink, uint256 art) = IManagerVat(vat).urns(ilks[cdp], src);
        IManagerVat(vat).fork(ilks[cdp], src, urns[cdp], int256(ink), int256(art));
    }

    function shift(uint256 cdpSrc, uint256 cdpDst) external cdpAllowed(cdpSrc) cdpAllowed(cdpDst) {
        require(ilks[cdpSrc] == ilks[cdpDst], "non-matching-cdps");
        (uint256 ink, uint256 art) = IManagerVat(vat).urns(ilks[cdpSrc], urns[cdpSrc]);
        IManagerVat(vat).fork(ilks[cdpSrc], urns[cdpSrc], urns[cdpDst], int256(ink), int256(art));
    }
}
