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

/// A collateral token for the devnet: an ERC-20 anyone may mint, with any number of decimals.
contract DevGem {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
    }

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
        return true;
    }
}
