// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// The part of the devnet's DevToken (indexer/devnet/contracts/DevToken.sol) the vault below uses.
interface IDevToken {
    function decimals() external view returns (uint8);
    function balanceOf(address owner) external view returns (uint256);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title DevYieldVault
/// @notice A minimal ERC-4626 vault over a DevToken (a savings token such as sUSDS): deposits mint shares at
///         the current rate, and anything sent to the vault without shares (a `donate`) raises the rate. It exists
///         so that an Euler collateral vault can hold a yield-bearing ERC-4626 token and the router resolves two
///         vaults in a row (EVault shares -> this vault's shares -> the underlying token).
///         convertToAssets(shares) = shares * (totalAssets + 1) / (totalSupply + 1), rounded down.
contract DevYieldVault {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    address public immutable asset;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Deposit(address indexed sender, address indexed owner, uint256 assets, uint256 shares);

    constructor(address asset_, string memory name_, string memory symbol_) {
        asset = asset_;
        name = name_;
        symbol = symbol_;
        decimals = IDevToken(asset_).decimals();
    }

    function totalAssets() public view returns (uint256) {
        return IDevToken(asset).balanceOf(address(this));
    }

    function convertToAssets(uint256 shares) public view returns (uint256) {
        return shares * (totalAssets() + 1) / (totalSupply + 1);
    }

    function convertToShares(uint256 assets) public view returns (uint256) {
        return assets * (totalSupply + 1) / (totalAssets() + 1);
    }

    function deposit(uint256 assets, address receiver) external returns (uint256 shares) {
        shares = convertToShares(assets);
        require(IDevToken(asset).transferFrom(msg.sender, address(this), assets), "pull");
        totalSupply += shares;
        balanceOf[receiver] += shares;
        emit Transfer(address(0), receiver, shares);
        emit Deposit(msg.sender, receiver, assets, shares);
    }

    /// @notice Moves `assets` of the underlying from the caller into the vault without minting shares: the rate rises.
    function donate(uint256 assets) external {
        require(IDevToken(asset).transferFrom(msg.sender, address(this), assets), "pull");
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) internal {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
