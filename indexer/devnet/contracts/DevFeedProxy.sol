// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IDevAggregator {
    function decimals() external view returns (uint8);
    function description() external view returns (string memory);
    function version() external view returns (uint256);
    function latestAnswer() external view returns (int256);
    function latestTimestamp() external view returns (uint256);
    function latestRound() external view returns (uint256);
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80);
    function getRoundData(uint80 roundId) external view returns (uint80, int256, uint256, uint256, uint80);
}

/// @title DevFeedProxy
/// @notice A devnet stand-in for a Chainlink EACAggregatorProxy: it forwards reads to its current
///         aggregator and numbers rounds as (phaseId << 64) | aggregatorRoundId. Swapping the aggregator
///         starts a new phase and, like the real proxy, emits no event: an indexer only notices by
///         reading `aggregator()` again.
contract DevFeedProxy {
    uint256 private constant PHASE_OFFSET = 64;

    uint16 public phaseId;
    mapping(uint16 => address) public phaseAggregators;

    constructor(address aggregator_) {
        _setAggregator(aggregator_);
    }

    /// @notice Points the proxy at a new aggregator and starts a new phase. Unrestricted: devnet only.
    function setAggregator(address aggregator_) external {
        _setAggregator(aggregator_);
    }

    function aggregator() public view returns (address) {
        return phaseAggregators[phaseId];
    }

    function decimals() external view returns (uint8) {
        return _current().decimals();
    }

    function description() external view returns (string memory) {
        return _current().description();
    }

    function version() external view returns (uint256) {
        return _current().version();
    }

    function latestAnswer() external view returns (int256) {
        return _current().latestAnswer();
    }

    function latestTimestamp() external view returns (uint256) {
        return _current().latestTimestamp();
    }

    function latestRound() external view returns (uint256) {
        return _withPhase(phaseId, _current().latestRound());
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint16 phase = phaseId;
        (uint80 r, int256 a, uint256 s, uint256 u, uint80 air) = IDevAggregator(phaseAggregators[phase])
            .latestRoundData();
        return (uint80(_withPhase(phase, r)), a, s, u, uint80(_withPhase(phase, air)));
    }

    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint16 phase = uint16(roundId >> PHASE_OFFSET);
        address source = phaseAggregators[phase];
        require(source != address(0), "No data present");
        (, int256 a, uint256 s, uint256 u, uint80 air) = IDevAggregator(source).getRoundData(uint64(roundId));
        return (roundId, a, s, u, uint80(_withPhase(phase, air)));
    }

    function _setAggregator(address aggregator_) private {
        require(aggregator_ != address(0), "aggregator is zero");
        phaseId += 1;
        phaseAggregators[phaseId] = aggregator_;
    }

    function _current() private view returns (IDevAggregator) {
        return IDevAggregator(phaseAggregators[phaseId]);
    }

    function _withPhase(uint16 phase, uint256 aggregatorRoundId) private pure returns (uint256) {
        return (uint256(phase) << PHASE_OFFSET) | uint64(aggregatorRoundId);
    }
}
