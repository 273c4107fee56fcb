// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityV2DevBase.sol";

/// The branch's active collateral and debt (liquity/bold contracts/src/ActivePool.sol), for the devnet: the
/// collateral held for open troves, the aggregate recorded debt and the sum of debts weighted by their rates, and
/// the aggregate interest pending since the last update — rounded *up* (`calcPendingAggInterest`), 0 once the
/// branch is shut down — which `getBoldDebt` adds. Left out: minting the interest as BOLD to the Stability Pool and
/// the interest router, and batch management fees (no batches on the devnet); the trove-change entry point takes
/// plain arguments instead of Liquity's TroveChange struct.
contract ActivePool {
    IDevERC20 public immutable collToken;
    address public immutable borrowerOperationsAddress;
    address public immutable troveManagerAddress;
    address public immutable defaultPoolAddress;
    address public immutable stabilityPool;

    uint256 internal collBalance;
    uint256 public aggRecordedDebt;
    uint256 public aggWeightedDebtSum;
    uint256 public lastAggUpdateTime;
    uint256 public shutdownTime;

    event ActivePoolCollBalanceUpdated(uint256 _collBalance);

    constructor(IDevAddressesRegistry registry) {
        collToken = IDevERC20(registry.collToken());
        borrowerOperationsAddress = registry.borrowerOperations();
        troveManagerAddress = registry.troveManager();
        defaultPoolAddress = registry.defaultPool();
        stabilityPool = registry.stabilityPool();
    }

    function getCollBalance() external view returns (uint256) {
        return collBalance;
    }

    function calcPendingAggInterest() public view returns (uint256) {
        if (shutdownTime != 0) return 0;
        return ceilDiv(aggWeightedDebtSum * (block.timestamp - lastAggUpdateTime), ONE_YEAR * DECIMAL_PRECISION);
    }

    function getBoldDebt() external view returns (uint256) {
        return aggRecordedDebt + calcPendingAggInterest();
    }

    function hasBeenShutDown() external view returns (bool) {
        return shutdownTime != 0;
    }

    function mintAggInterestAndAccountForTroveChange(
        uint256 debtIncrease,
        uint256 debtDecrease,
        uint256 appliedRedistBoldDebtGain,
        uint256 newWeightedRecordedDebt,
        uint256 oldWeightedRecordedDebt
    ) external {
        require(msg.sender == borrowerOperationsAddress || msg.sender == troveManagerAddress, "ActivePool: caller");
        aggRecordedDebt = aggRecordedDebt + _mintAggInterest() + appliedRedistBoldDebtGain + debtIncrease - debtDecrease;
        aggWeightedDebtSum = aggWeightedDebtSum + newWeightedRecordedDebt - oldWeightedRecordedDebt;
    }

    function mintAggInterest() external {
        require(msg.sender == borrowerOperationsAddress, "ActivePool: caller");
        aggRecordedDebt += _mintAggInterest();
    }

    function _mintAggInterest() internal returns (uint256 minted) {
        minted = calcPendingAggInterest();
        lastAggUpdateTime = block.timestamp;
    }

    function sendColl(address to, uint256 amount) external {
        require(
            msg.sender == borrowerOperationsAddress || msg.sender == troveManagerAddress || msg.sender == stabilityPool,
            "ActivePool: caller"
        );
        collBalance -= amount;
        emit ActivePoolCollBalanceUpdated(collBalance);
        require(collToken.transfer(to, amount), "ActivePool: transfer");
    }

    function sendCollToDefaultPool(uint256 amount) external {
        require(msg.sender == troveManagerAddress, "ActivePool: caller");
        collBalance -= amount;
        emit ActivePoolCollBalanceUpdated(collBalance);
        require(collToken.transfer(defaultPoolAddress, amount), "ActivePool: transfer");
        IDevDefaultPool(defaultPoolAddress).receiveColl(amount);
    }

    /// Books collateral already transferred here (by a borrower, or by the DefaultPool).
    function accountForReceivedColl(uint256 amount) external {
        require(msg.sender == borrowerOperationsAddress || msg.sender == defaultPoolAddress, "ActivePool: caller");
        collBalance += amount;
        emit ActivePoolCollBalanceUpdated(collBalance);
    }

    function setShutdownFlag() external {
        require(msg.sender == troveManagerAddress, "ActivePool: caller");
        shutdownTime = block.timestamp;
    }
}

/// Redistributed collateral and debt not yet applied to the troves that received them (liquity/bold
/// contracts/src/DefaultPool.sol), for the devnet.
contract DefaultPool {
    IDevERC20 public immutable collToken;
    address public immutable troveManagerAddress;
    address public immutable activePoolAddress;

    uint256 internal collBalance;
    uint256 internal boldDebt;

    constructor(IDevAddressesRegistry registry) {
        collToken = IDevERC20(registry.collToken());
        troveManagerAddress = registry.troveManager();
        activePoolAddress = registry.activePool();
    }

    function getCollBalance() external view returns (uint256) {
        return collBalance;
    }

    function getBoldDebt() external view returns (uint256) {
        return boldDebt;
    }

    function increaseBoldDebt(uint256 amount) external {
        require(msg.sender == troveManagerAddress, "DefaultPool: caller");
        boldDebt += amount;
    }

    function decreaseBoldDebt(uint256 amount) external {
        require(msg.sender == troveManagerAddress, "DefaultPool: caller");
        boldDebt -= amount;
    }

    function sendCollToActivePool(uint256 amount) external {
        require(msg.sender == troveManagerAddress, "DefaultPool: caller");
        collBalance -= amount;
        require(collToken.transfer(activePoolAddress, amount), "DefaultPool: transfer");
        IDevActivePool(activePoolAddress).accountForReceivedColl(amount);
    }

    /// Books collateral the ActivePool has just transferred here.
    function receiveColl(uint256 amount) external {
        require(msg.sender == activePoolAddress, "DefaultPool: caller");
        collBalance += amount;
    }
}

/// The branch's Stability Pool reduced to what liquidations use (liquity/bold contracts/src/StabilityPool.sol):
/// the total BOLD deposited (`getTotalBoldDeposits`), `provideToSP`, and `offset`, which takes the liquidated
/// debt out of the deposits and receives the collateral. Left out: per-depositor compounded deposits and gains,
/// yield, withdrawals. The BOLD an offset cancels is sent to 0x…dEaD (the devnet's BOLD is a DevToken).
contract StabilityPool {
    IDevERC20 public immutable boldToken;
    address public immutable troveManager;
    IDevActivePool public immutable activePool;

    uint256 internal totalBoldDeposits;
    mapping(address => uint256) public deposits;

    event DepositUpdated(address indexed _depositor, uint256 _newDeposit);

    constructor(IDevAddressesRegistry registry) {
        boldToken = IDevERC20(registry.boldToken());
        troveManager = registry.troveManager();
        activePool = IDevActivePool(registry.activePool());
    }

    function getTotalBoldDeposits() external view returns (uint256) {
        return totalBoldDeposits;
    }

    function provideToSP(uint256 topUp, bool /* doClaim */ ) external {
        require(topUp > 0, "StabilityPool: zero");
        require(boldToken.transferFrom(msg.sender, address(this), topUp), "StabilityPool: transfer");
        totalBoldDeposits += topUp;
        deposits[msg.sender] += topUp;
        emit DepositUpdated(msg.sender, deposits[msg.sender]);
    }

    function offset(uint256 debtToOffset, uint256 collToAdd) external {
        require(msg.sender == troveManager, "StabilityPool: caller");
        totalBoldDeposits -= debtToOffset;
        require(boldToken.transfer(BURNED, debtToOffset), "StabilityPool: burn");
        activePool.sendColl(address(this), collToAdd);
    }
}
