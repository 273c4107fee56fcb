// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title DevPriceFeed
/// @notice A devnet price aggregator that answers like a Chainlink AggregatorV3Interface feed, and whose
///         rounds anyone can write. It exists so tests can move prices, backdate or future-date rounds
///         and make round ids go backwards, all of which real feeds (rarely) do and an indexer must survive.
contract DevPriceFeed {
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint80 answeredInRound;
        bool present;
    }

    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 4;

    uint80 private _latestRoundId;
    mapping(uint80 => Round) private _rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        decimals = decimals_;
        description = description_;
        _writeRound(1, initialAnswer, block.timestamp, block.timestamp);
    }

    // ------------------------------------------------------------------ writers (unrestricted: devnet only)

    /// @notice Starts the next round with `answer`, stamped with the current block time.
    function setAnswer(int256 answer) external {
        _writeRound(_latestRoundId + 1, answer, block.timestamp, block.timestamp);
    }

    /// @notice Writes an arbitrary round and makes it the latest one. Nothing is validated on purpose:
    ///         round ids may go backwards and `updatedAt` may be 0 or lie in the future.
    function setRoundData(uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt) external {
        _writeRound(roundId, answer, startedAt, updatedAt);
    }

    /// @notice Rewrites the latest round's `updatedAt` without starting a round and without an event,
    ///         the way a feed that silently stops updating looks from outside.
    function setUpdatedAt(uint256 updatedAt) external {
        _rounds[_latestRoundId].updatedAt = updatedAt;
    }

    // ------------------------------------------------------------------ AggregatorV3Interface

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return _read(_latestRoundId);
    }

    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return _read(roundId);
    }

    // ------------------------------------------------------------------ legacy AggregatorInterface

    function latestAnswer() external view returns (int256) {
        return _rounds[_latestRoundId].answer;
    }

    function latestTimestamp() external view returns (uint256) {
        return _rounds[_latestRoundId].updatedAt;
    }

    function latestRound() external view returns (uint256) {
        return _latestRoundId;
    }

    function getAnswer(uint256 roundId) external view returns (int256) {
        return _rounds[uint80(roundId)].answer;
    }

    function getTimestamp(uint256 roundId) external view returns (uint256) {
        return _rounds[uint80(roundId)].updatedAt;
    }

    // ------------------------------------------------------------------ internals

    function _writeRound(uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt) private {
        _rounds[roundId] = Round(answer, startedAt, updatedAt, roundId, true);
        _latestRoundId = roundId;
        emit NewRound(roundId, msg.sender, startedAt);
        emit AnswerUpdated(answer, roundId, updatedAt);
    }

    function _read(uint80 roundId) private view returns (uint80, int256, uint256, uint256, uint80) {
        Round storage r = _rounds[roundId];
        require(r.present, "No data present");
        return (roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound);
    }
}
