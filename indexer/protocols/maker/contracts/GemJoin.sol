// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IJoinVat {
    function slip(bytes32, address, int256) external;
}

interface IJoinGem {
    function decimals() external view returns (uint8);
    function transfer(address, uint256) external returns (bool);
    function transferFrom(address, address, uint256) external returns (bool);
}

/// A collateral adapter for the devnet, written for this project behind the external ABI of makerdao/dss src/join.sol
/// GemJoin and makerdao/dss-gem-joins src/join-5.sol GemJoin5: join(usr, amt) credits the Vat gem balance of usr with
/// wad = amt * 10**(18 - dec) (the Vat counts every collateral in wad whatever the token's decimals), exit the
/// reverse. dec is the token's decimals, read once.
contract GemJoin {
    mapping(address => uint256) public wards;
    address public vat;
    bytes32 public ilk;
    address public gem;
    uint256 public dec;
    uint256 public live;

    event Join(address indexed usr, uint256 amt);
    event Exit(address indexed usr, uint256 amt);

    modifier auth() {
        require(wards[msg.sender] == 1, "GemJoin/not-authorized");
        _;
    }

    constructor(address vat_, bytes32 ilk_, address gem_) {
        wards[msg.sender] = 1;
        live = 1;
        vat = vat_;
        ilk = ilk_;
        gem = gem_;
        dec = IJoinGem(gem_).decimals();
        require(dec <= 18, "GemJoin/decimals-above-18");
    }

    function cage() external auth {
        live = 0;
    }

    function join(address usr, uint256 amt) external {
        require(live == 1, "GemJoin/not-live");
        uint256 wad = amt * 10 ** (18 - dec);
        require(int256(wad) >= 0, "GemJoin/overflow");
        IJoinVat(vat).slip(ilk, usr, int256(wad));
        require(IJoinGem(gem).transferFrom(msg.sender, address(this), amt), "GemJoin/failed-transfer");
        emit Join(usr, amt);
    }

    function exit(address usr, uint256 amt) external {
        uint256 wad = amt * 10 ** (18 - dec);
        require(int256(wad) >= 0, "GemJoin/overflow");
        IJoinVat(vat).slip(ilk, msg.sender, -int256(wad));
        require(IJoinGem(gem).transfer(usr, amt), "GemJoin/failed-transfer");
        emit Exit(usr, amt);
    }
}
