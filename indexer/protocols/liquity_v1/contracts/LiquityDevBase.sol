// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// Interfaces between the devnet stand-in's contracts, and what they share: Liquity v1's system constants
/// and collateral-ratio arithmetic (liquity/dev packages/contracts/contracts/Dependencies/LiquityBase.sol and
/// LiquityMath.sol), written for this devnet. Solidity 0.8's checked arithmetic reverts where Liquity's
/// SafeMath does.

interface IDevAggregatorV3 {
    function decimals() external view returns (uint8);
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80);
    function getRoundData(uint80 roundId) external view returns (uint80, int256, uint256, uint256, uint80);
}

interface IDevPriceFeed {
    function fetchPrice() external returns (uint256);
}

interface IDevActivePool {
    function getETH() external view returns (uint256);
    function getLUSDDebt() external view returns (uint256);
    function increaseLUSDDebt(uint256 amount) external;
    function decreaseLUSDDebt(uint256 amount) external;
    function sendETH(address to, uint256 amount) external;
}

interface IDevDefaultPool {
    function getETH() external view returns (uint256);
    function getLUSDDebt() external view returns (uint256);
    function increaseLUSDDebt(uint256 amount) external;
    function decreaseLUSDDebt(uint256 amount) external;
    function sendETHToActivePool(uint256 amount) external;
}

interface IDevStabilityPool {
    function getTotalLUSDDeposits() external view returns (uint256);
    function offset(uint256 debtToOffset, uint256 collToAdd) external;
}

interface IDevLUSDToken {
    function balanceOf(address account) external view returns (uint256);
    function mint(address account, uint256 amount) external;
    function burn(address account, uint256 amount) external;
    function sendToPool(address sender, address pool, uint256 amount) external;
    function returnFromPool(address pool, address receiver, uint256 amount) external;
}

interface IDevTroveManager {
    function getTroveStatus(address borrower) external view returns (uint256);
    function getTroveDebt(address borrower) external view returns (uint256);
    function getTroveColl(address borrower) external view returns (uint256);
    function setTroveStatus(address borrower, uint256 status) external;
    function increaseTroveColl(address borrower, uint256 amount) external returns (uint256);
    function decreaseTroveColl(address borrower, uint256 amount) external returns (uint256);
    function increaseTroveDebt(address borrower, uint256 amount) external returns (uint256);
    function decreaseTroveDebt(address borrower, uint256 amount) external returns (uint256);
    function updateTroveRewardSnapshots(address borrower) external;
    function updateStakeAndTotalStakes(address borrower) external returns (uint256);
    function addTroveOwnerToArray(address borrower) external returns (uint256);
    function applyPendingRewards(address borrower) external;
    function removeStake(address borrower) external;
    function closeTrove(address borrower) external;
}

/// Set-once wiring: the deployer connects the contracts, then nobody can change them (as Liquity renounces
/// ownership in every setAddresses).
abstract contract DevOwned {
    address private _owner = msg.sender;

    modifier onlyOwner() {
        require(msg.sender == _owner, "Ownable: caller is not the owner");
        _;
    }

    function owner() external view returns (address) {
        return _owner;
    }

    function _renounceOwnership() internal {
        _owner = address(0);
    }
}

/// Liquity v1's constants and the system-wide views TroveManager and BorrowerOperations share.
abstract contract LiquityDevBase is DevOwned {
    uint256 public constant DECIMAL_PRECISION = 1e18;
    uint256 public constant _100pct = 1e18;
    uint256 public constant MCR = 1.1e18; // minimum collateral ratio of a trove
    uint256 public constant CCR = 1.5e18; // recovery mode below this total collateral ratio
    uint256 public constant LUSD_GAS_COMPENSATION = 200e18;
    uint256 public constant MIN_NET_DEBT = 1800e18;
    uint256 public constant PERCENT_DIVISOR = 200; // 0.5 % of the collateral pays the liquidator's gas
    uint256 public constant BORROWING_FEE_FLOOR = 5e15; // 0.5 %
    uint256 internal constant NICR_PRECISION = 1e20;

    IDevActivePool public activePool;
    IDevDefaultPool public defaultPool;
    IDevPriceFeed public priceFeed;

    function getEntireSystemColl() public view returns (uint256) {
        return activePool.getETH() + defaultPool.getETH();
    }

    function getEntireSystemDebt() public view returns (uint256) {
        return activePool.getLUSDDebt() + defaultPool.getLUSDDebt();
    }

    function _getTCR(uint256 price) internal view returns (uint256) {
        return _computeCR(getEntireSystemColl(), getEntireSystemDebt(), price);
    }

    function _checkRecoveryMode(uint256 price) internal view returns (bool) {
        return _getTCR(price) < CCR;
    }

    /// coll * price / debt, floored (1e18 = 100 %); "infinite" (uint max) without debt.
    function _computeCR(uint256 coll, uint256 debt, uint256 price) internal pure returns (uint256) {
        if (debt == 0) {
            return type(uint256).max;
        }
        return coll * price / debt;
    }

    function _computeNominalCR(uint256 coll, uint256 debt) internal pure returns (uint256) {
        if (debt == 0) {
            return type(uint256).max;
        }
        return coll * NICR_PRECISION / debt;
    }

    function _getCollGasCompensation(uint256 entireColl) internal pure returns (uint256) {
        return entireColl / PERCENT_DIVISOR;
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }
}
