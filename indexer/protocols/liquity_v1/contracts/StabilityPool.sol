// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityDevBase.sol";

/// The Stability Pool for the devnet: LUSD deposits that liquidations offset debt against, and the ETH those
/// liquidations send it. Only the totals are kept (getTotalLUSDDeposits, getETH, offset as in Liquity v1's
/// StabilityPool.sol); the per-depositor product/sum bookkeeping (P, S, G, compounded deposits, gains,
/// withdrawals, front ends, LQTY) is left out: nothing on this devnet reads it.
contract StabilityPool is DevOwned {
    string public constant NAME = "StabilityPool";

    address public troveManagerAddress;
    IDevActivePool public activePool;
    IDevLUSDToken public lusdToken;

    struct Deposit {
        uint256 initialValue;
        address frontEndTag;
    }

    mapping(address => Deposit) public deposits;
    uint256 internal totalLUSDDeposits;
    uint256 internal ETH;

    event StabilityPoolETHBalanceUpdated(uint256 _newBalance);
    event StabilityPoolLUSDBalanceUpdated(uint256 _newBalance);
    event UserDepositChanged(address indexed _depositor, uint256 _newDeposit);

    function setAddresses(address troveManager, address activePool_, address lusdToken_) external onlyOwner {
        troveManagerAddress = troveManager;
        activePool = IDevActivePool(activePool_);
        lusdToken = IDevLUSDToken(lusdToken_);
        _renounceOwnership();
    }

    function getETH() external view returns (uint256) {
        return ETH;
    }

    function getTotalLUSDDeposits() external view returns (uint256) {
        return totalLUSDDeposits;
    }

    function provideToSP(uint256 amount, address frontEndTag) external {
        require(amount != 0, "StabilityPool: Amount must be non-zero");
        lusdToken.sendToPool(msg.sender, address(this), amount);
        totalLUSDDeposits += amount;
        Deposit storage d = deposits[msg.sender];
        d.initialValue += amount;
        if (d.frontEndTag == address(0)) {
            d.frontEndTag = frontEndTag;
        }
        emit StabilityPoolLUSDBalanceUpdated(totalLUSDDeposits);
        emit UserDepositChanged(msg.sender, d.initialValue);
    }

    /// A liquidation cancels `debtToOffset` of debt against the deposits and hands the pool `collToAdd`.
    function offset(uint256 debtToOffset, uint256 collToAdd) external {
        require(msg.sender == troveManagerAddress, "StabilityPool: Caller is not TroveManager");
        if (totalLUSDDeposits == 0 || debtToOffset == 0) {
            return;
        }
        totalLUSDDeposits -= debtToOffset;
        emit StabilityPoolLUSDBalanceUpdated(totalLUSDDeposits);
        activePool.decreaseLUSDDebt(debtToOffset);
        lusdToken.burn(address(this), debtToOffset);
        activePool.sendETH(address(this), collToAdd);
    }

    receive() external payable {
        require(msg.sender == address(activePool), "StabilityPool: Caller is not ActivePool");
        ETH += msg.value;
        emit StabilityPoolETHBalanceUpdated(ETH);
    }
}
