// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

// What the Liquity v2 (BOLD) devnet stand-in's contracts share, written for this devnet after liquity/bold:
// the constants its math needs (contracts/src/Dependencies/Constants.sol), the trove view's shape
// (contracts/src/Types/LatestTroveData.sol: ten words in that order), the integer helpers of
// contracts/src/Dependencies/LiquityMath.sol (_computeCR, _min) and LiquityBase.sol (_calcInterest), and the
// interfaces the contracts call each other through. Solidity 0.8's checked arithmetic reverts where Liquity's does.

uint256 constant DECIMAL_PRECISION = 1e18;
uint256 constant ONE_YEAR = 365 days;
uint256 constant MIN_DEBT = 2000e18;
uint256 constant MIN_ANNUAL_INTEREST_RATE = 5e15; // 0.5 %
uint256 constant MAX_ANNUAL_INTEREST_RATE = 250e16; // 250 %
uint256 constant COLL_GAS_COMPENSATION_DIVISOR = 200; // 0.5 % of the collateral to the liquidator
uint256 constant COLL_GAS_COMPENSATION_CAP = 2 ether;
uint256 constant MIN_BOLD_IN_SP = 1e18; // a liquidation leaves this much in the Stability Pool
address constant BURNED = 0x000000000000000000000000000000000000dEaD; // where BOLD the devnet "burns" goes

struct LatestTroveData {
    uint256 entireDebt;
    uint256 entireColl;
    uint256 redistBoldDebtGain;
    uint256 redistCollGain;
    uint256 accruedInterest;
    uint256 recordedDebt;
    uint256 annualInterestRate;
    uint256 weightedRecordedDebt;
    uint256 accruedBatchManagementFee;
    uint256 lastInterestRateAdjTime;
}

/// `coll * price / debt` floored (1e18 = 100 %); the largest uint256 without debt.
function computeCR(uint256 coll, uint256 debt, uint256 price) pure returns (uint256) {
    if (debt == 0) return type(uint256).max;
    return coll * price / debt;
}

/// Interest of `weightedDebt` (debt times an annual rate in 1e18) over `period` seconds: floored twice, as
/// LiquityBase._calcInterest divides by ONE_YEAR and then by DECIMAL_PRECISION.
function calcInterest(uint256 weightedDebt, uint256 period) pure returns (uint256) {
    return weightedDebt * period / ONE_YEAR / DECIMAL_PRECISION;
}

function minOf(uint256 a, uint256 b) pure returns (uint256) {
    return a < b ? a : b;
}

/// The rounded-up quotient (OpenZeppelin's Math.ceilDiv), used for the aggregate interest.
function ceilDiv(uint256 a, uint256 b) pure returns (uint256) {
    return a == 0 ? 0 : (a - 1) / b + 1;
}

interface IDevERC20 {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
    function mint(address to, uint256 amount) external;
}

interface IDevAggregator {
    function decimals() external view returns (uint8);
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80);
}

interface IDevAddressesRegistry {
    function collToken() external view returns (address);
    function borrowerOperations() external view returns (address);
    function troveManager() external view returns (address);
    function troveNFT() external view returns (address);
    function stabilityPool() external view returns (address);
    function priceFeed() external view returns (address);
    function activePool() external view returns (address);
    function defaultPool() external view returns (address);
    function boldToken() external view returns (address);
    function CCR() external view returns (uint256);
    function MCR() external view returns (uint256);
    function SCR() external view returns (uint256);
    function BCR() external view returns (uint256);
    function LIQUIDATION_PENALTY_SP() external view returns (uint256);
    function LIQUIDATION_PENALTY_REDISTRIBUTION() external view returns (uint256);
}

interface IDevPriceFeed {
    function fetchPrice() external returns (uint256, bool);
}

interface IDevBorrowerOperations {
    function shutdownFromOracleFailure() external;
}

interface IDevTroveManager {
    function getTroveStatus(uint256 troveId) external view returns (uint8);
    function getLatestTroveData(uint256 troveId) external view returns (LatestTroveData memory);
    function getEntireBranchColl() external view returns (uint256);
    function getEntireBranchDebt() external view returns (uint256);
    function onOpenTrove(address owner, uint256 troveId, uint256 coll, uint256 debt, uint256 rate) external;
    function onAdjustTrove(uint256 troveId, uint256 coll, uint256 debt, uint256 appliedDebt, uint256 appliedColl)
        external;
    function shutdown() external;
}

interface IDevTroveNFT {
    function ownerOf(uint256 tokenId) external view returns (address);
    function mint(address owner, uint256 tokenId) external;
    function burn(uint256 tokenId) external;
}

interface IDevActivePool {
    function getCollBalance() external view returns (uint256);
    function getBoldDebt() external view returns (uint256);
    function mintAggInterestAndAccountForTroveChange(
        uint256 debtIncrease,
        uint256 debtDecrease,
        uint256 appliedRedistBoldDebtGain,
        uint256 newWeightedRecordedDebt,
        uint256 oldWeightedRecordedDebt
    ) external;
    function mintAggInterest() external;
    function sendColl(address to, uint256 amount) external;
    function sendCollToDefaultPool(uint256 amount) external;
    function accountForReceivedColl(uint256 amount) external;
    function setShutdownFlag() external;
}

interface IDevDefaultPool {
    function getCollBalance() external view returns (uint256);
    function getBoldDebt() external view returns (uint256);
    function increaseBoldDebt(uint256 amount) external;
    function decreaseBoldDebt(uint256 amount) external;
    function sendCollToActivePool(uint256 amount) external;
    function receiveColl(uint256 amount) external;
}

interface IDevStabilityPool {
    function getTotalBoldDeposits() external view returns (uint256);
    function offset(uint256 debtToOffset, uint256 collToAdd) external;
}
