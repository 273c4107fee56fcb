// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityDevBase.sol";

/// LUSD for the devnet: a plain ERC20 that only the system's contracts mint and burn, with the pool moves
/// Liquity v1's LUSDToken.sol offers them (sendToPool, returnFromPool). No permit.
contract LUSDToken is DevOwned {
    string public constant name = "LUSD Stablecoin";
    string public constant symbol = "LUSD";
    uint8 public constant decimals = 18;

    address public troveManagerAddress;
    address public stabilityPoolAddress;
    address public borrowerOperationsAddress;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function setAddresses(address troveManager, address stabilityPool, address borrowerOperations)
        external onlyOwner
    {
        troveManagerAddress = troveManager;
        stabilityPoolAddress = stabilityPool;
        borrowerOperationsAddress = borrowerOperations;
        _renounceOwnership();
    }

    function mint(address account, uint256 amount) external {
        require(msg.sender == borrowerOperationsAddress, "LUSDToken: Caller is not BorrowerOperations");
        totalSupply += amount;
        balanceOf[account] += amount;
        emit Transfer(address(0), account, amount);
    }

    function burn(address account, uint256 amount) external {
        require(msg.sender == borrowerOperationsAddress || msg.sender == troveManagerAddress
                || msg.sender == stabilityPoolAddress, "LUSD: Caller is neither BorrowerOperations nor TroveManager nor StabilityPool");
        balanceOf[account] -= amount;
        totalSupply -= amount;
        emit Transfer(account, address(0), amount);
    }

    function sendToPool(address sender, address pool, uint256 amount) external {
        require(msg.sender == stabilityPoolAddress, "LUSD: Caller is not the StabilityPool");
        _move(sender, pool, amount);
    }

    function returnFromPool(address pool, address receiver, uint256 amount) external {
        require(msg.sender == troveManagerAddress || msg.sender == stabilityPoolAddress,
                "LUSD: Caller is neither TroveManager nor StabilityPool");
        _move(pool, receiver, amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        allowance[from][msg.sender] -= amount;
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
