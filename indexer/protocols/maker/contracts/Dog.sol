// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IDogVat {
    function ilks(bytes32) external view returns (uint256 Art, uint256 rate, uint256 spot, uint256 line, uint256 dust);
    function urns(bytes32, address) external view returns (uint256 ink, uint256 art);
    function grab(bytes32, address, address, address, int256, int256) external;
}

interface IDogClipper {
    function ilk() external view returns (bytes32);
    function kick(uint256 tab, uint256 lot, address usr, address kpr) external returns (uint256);
}

interface IDogVow {
    function fess(uint256) external;
}

/// The liquidation module for the devnet, written for this project behind the external ABI of makerdao/dss
/// src/dog.sol (Liquidations 2.0).
///
/// bark(ilk, urn, kpr) in dog.sol's order: the Dog is live; the urn is unsafe at the Vat's stored figures
/// (`spot > 0 && ink * spot < art * rate`: no drip, no poke); there is room under both limits
/// (`Hole > Dirt && hole > dirt`); dart = min(art, room * WAD / rate / chop); a partial liquidation that would
/// leave a dusty urn takes everything, one whose auction would be dusty reverts; dink = ink * dart / art must
/// be positive; then Vat.grab, Vow.fess(due), Dirt and dirt grow by tab = due * chop / WAD and the ilk's
/// Clipper is kicked. chop [wad]; hole, dirt, Hole, Dirt [rad].
contract Dog {
    mapping(address => uint256) public wards;

    struct Ilk {
        address clip;  // Liquidator
        uint256 chop;  // Liquidation penalty [wad]
        uint256 hole;  // Max DAI of active auctions for the ilk [rad]
        uint256 dirt;  // DAI of active auctions for the ilk [rad]
    }

    address public immutable vat;
    mapping(bytes32 => Ilk) public ilks;
    address public vow;
    uint256 public live;
    uint256 public Hole;  // [rad]
    uint256 public Dirt;  // [rad]

    uint256 constant WAD = 10 ** 18;

    event Bark(bytes32 indexed ilk, address indexed urn, uint256 ink, uint256 art, uint256 due, address clip,
               uint256 indexed id);
    event Digs(bytes32 indexed ilk, uint256 rad);

    modifier auth() {
        require(wards[msg.sender] == 1, "Dog/not-authorized");
        _;
    }

    constructor(address vat_) {
        vat = vat_;
        live = 1;
        wards[msg.sender] = 1;
    }

    function rely(address usr) external auth { wards[usr] = 1; }
    function deny(address usr) external auth { wards[usr] = 0; }

    function file(bytes32 what, address data) external auth {
        if (what == "vow") vow = data;
        else revert("Dog/file-unrecognized-param");
    }

    function file(bytes32 what, uint256 data) external auth {
        if (what == "Hole") Hole = data;
        else revert("Dog/file-unrecognized-param");
    }

    function file(bytes32 ilk, bytes32 what, uint256 data) external auth {
        if (what == "chop") {
            require(data >= WAD, "Dog/file-chop-lt-WAD");
            ilks[ilk].chop = data;
        } else if (what == "hole") ilks[ilk].hole = data;
        else revert("Dog/file-unrecognized-param");
    }

    function file(bytes32 ilk, bytes32 what, address clip) external auth {
        if (what == "clip") {
            require(ilk == IDogClipper(clip).ilk(), "Dog/file-ilk-neq-clip.ilk");
            ilks[ilk].clip = clip;
        } else revert("Dog/file-unrecognized-param");
    }

    function chop(bytes32 ilk) external view returns (uint256) {
        return ilks[ilk].chop;
    }

    function _min(uint256 x, uint256 y) internal pure returns (uint256) {
        return x <= y ? x : y;
    }

    function bark(bytes32 ilk, address urn, address kpr) external returns (uint256 id) {
        require(live == 1, "Dog/not-live");
        (uint256 ink, uint256 art) = IDogVat(vat).urns(ilk, urn);
        Ilk memory milk = ilks[ilk];
        uint256 dart;
        uint256 rate;
        uint256 dust;
        {
            uint256 spot;
            (, rate, spot,, dust) = IDogVat(vat).ilks(ilk);
            require(spot > 0 && ink * spot < art * rate, "Dog/not-unsafe");
            require(Hole > Dirt && milk.hole > milk.dirt, "Dog/liquidation-limit-hit");
            uint256 room = _min(Hole - Dirt, milk.hole - milk.dirt);
            dart = _min(art, room * WAD / rate / milk.chop);
            if (art > dart) {
                if ((art - dart) * rate < dust) {
                    dart = art;  // the leftover would be dusty: take it all
                } else {
                    require(dart * rate >= dust, "Dog/dusty-auction-from-partial-liquidation");
                }
            }
        }
        uint256 dink = ink * dart / art;
        require(dink > 0, "Dog/null-auction");
        require(dart <= 2 ** 255 && dink <= 2 ** 255, "Dog/overflow");

        IDogVat(vat).grab(ilk, urn, milk.clip, vow, -int256(dink), -int256(dart));

        uint256 due = dart * rate;
        IDogVow(vow).fess(due);
        {
            uint256 tab = due * milk.chop / WAD;
            Dirt += tab;
            ilks[ilk].dirt = milk.dirt + tab;
            id = IDogClipper(milk.clip).kick(tab, dink, urn, kpr);
        }
        emit Bark(ilk, urn, dink, dart, due, milk.clip, id);
    }

    function digs(bytes32 ilk, uint256 rad) external auth {
        Dirt -= rad;
        ilks[ilk].dirt -= rad;
        emit Digs(ilk, rad);
    }

    function cage() external auth {
        live = 0;
    }
}
