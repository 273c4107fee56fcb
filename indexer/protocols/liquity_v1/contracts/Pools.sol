// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityDevBase.sol";

/// The active troves' ETH and LUSD debt (Liquity v1's ActivePool.sol: getETH, getLUSDDebt, sendETH and the
/// debt counters), for the devnet.
contract ActivePool is DevOwned {
    string public constant NAME = "ActivePool";

    address public borrowerOperationsAddress;
    address public troveManagerAddress;
    address public stabilityPoolAddress;
    address public defaultPoolAddress;

    uint256 internal ETH;
    uint256 internal LUSDDebt;

    event ActivePoolLUSDDebtUpdated(uint256 _LUSDDebt);
    event ActivePoolETHBalanceUpdated(uint256 _ETH);
    event EtherSent(address _to, uint256 _amount);

    function setAddresses(address borrowerOperations, address troveManager, address stabilityPool,
                          address defaultPool) external onlyOwner {
        borrowerOperationsAddress = borrowerOperations;
        troveManagerAddress = troveManager;
        stabilityPoolAddress = stabilityPool;
        defaultPoolAddress = defaultPool;
        _renounceOwnership();
    }

    function getETH() external view returns (uint256) {
        return ETH;
    }

    function getLUSDDebt() external view returns (uint256) {
        return LUSDDebt;
    }

    function sendETH(address to, uint256 amount) external {
        require(msg.sender == borrowerOperationsAddress || msg.sender == troveManagerAddress
                || msg.sender == stabilityPoolAddress, "ActivePool: Caller is neither BO nor TroveM nor SP");
        ETH -= amount;
        emit ActivePoolETHBalanceUpdated(ETH);
        emit EtherSent(to, amount);
        (bool ok,) = to.call{value: amount}("");
        require(ok, "ActivePool: sending ETH failed");
    }

    function increaseLUSDDebt(uint256 amount) external {
        require(msg.sender == borrowerOperationsAddress || msg.sender == troveManagerAddress,
                "ActivePool: Caller is neither BorrowerOperations nor TroveManager");
        LUSDDebt += amount;
        emit ActivePoolLUSDDebtUpdated(LUSDDebt);
    }

    function decreaseLUSDDebt(uint256 amount) external {
        require(msg.sender == borrowerOperationsAddress || msg.sender == troveManagerAddress
                || msg.sender == stabilityPoolAddress, "ActivePool: Caller is neither BO nor TroveM nor SP");
        LUSDDebt -= amount;
        emit ActivePoolLUSDDebtUpdated(LUSDDebt);
    }

    receive() external payable {
        require(msg.sender == borrowerOperationsAddress || msg.sender == defaultPoolAddress,
                "ActivePool: Caller is neither BO nor Default Pool");
        ETH += msg.value;
        emit ActivePoolETHBalanceUpdated(ETH);
    }
}

/// The ETH and LUSD debt of liquidated troves redistributed to the active ones and not yet applied to them
/// (Liquity v1's DefaultPool.sol), for the devnet.
contract DefaultPool is DevOwned {
    string public constant NAME = "DefaultPool";

    address public troveManagerAddress;
    address public activePoolAddress;

    uint256 internal ETH;
    uint256 internal LUSDDebt;

    event DefaultPoolLUSDDebtUpdated(uint256 _LUSDDebt);
    event DefaultPoolETHBalanceUpdated(uint256 _ETH);

    function setAddresses(address troveManager, address activePool) external onlyOwner {
        troveManagerAddress = troveManager;
        activePoolAddress = activePool;
        _renounceOwnership();
    }

    function getETH() external view returns (uint256) {
        return ETH;
    }

    function getLUSDDebt() external view returns (uint256) {
        return LUSDDebt;
    }

    function sendETHToActivePool(uint256 amount) external {
        require(msg.sender == troveManagerAddress, "DefaultPool: Caller is not the TroveManager");
        ETH -= amount;
        emit DefaultPoolETHBalanceUpdated(ETH);
        (bool ok,) = activePoolAddress.call{value: amount}("");
        require(ok, "DefaultPool: sending ETH failed");
    }

    function increaseLUSDDebt(uint256 amount) external {
        require(msg.sender == troveManagerAddress, "DefaultPool: Caller is not the TroveManager");
        LUSDDebt += amount;
        emit DefaultPoolLUSDDebtUpdated(LUSDDebt);
    }

    function decreaseLUSDDebt(uint256 amount) external {
        require(msg.sender == troveManagerAddress, "DefaultPool: Caller is not the TroveManager");
        LUSDDebt -= amount;
        emit DefaultPoolLUSDDebtUpdated(LUSDDebt);
    }

    receive() external payable {
        require(msg.sender == activePoolAddress, "DefaultPool: Caller is not the ActivePool");
        ETH += msg.value;
        emit DefaultPoolETHBalanceUpdated(ETH);
    }
}
