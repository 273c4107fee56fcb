// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./LiquityDevBase.sol";

/// Liquity v1's price feed for the devnet: Chainlink (a DevPriceFeed) with the same checks as Liquity v1's
/// PriceFeed.sol (a response is bad when the call fails, the round id is 0, the timestamp is 0 or in the
/// future or the answer is not positive; frozen past TIMEOUT; a move of more than 50 % between two
/// consecutive rounds is not trusted alone) and the same status enum.
///
/// The fallback oracle is modelled as a Tellor that always answers, but never a fresh value ("frozen" in
/// PriceFeed.sol's words). Liquity's fetchPrice then goes: Chainlink broken -> usingTellorChainlinkUntrusted,
/// lastGoodPrice; frozen -> usingTellorChainlinkFrozen, lastGoodPrice; a >50 % jump ->
/// usingTellorChainlinkUntrusted, lastGoodPrice; otherwise Chainlink's price, stored. Out of
/// chainlinkWorking every state ends in lastGoodPrice while the fallback stays frozen (usingTellorChainlinkFrozen
/// moves on to usingTellorChainlinkUntrusted when Chainlink breaks), so this contract never returns to
/// Chainlink, as Liquity would not without a live fallback agreeing with it.
contract PriceFeed is DevOwned {
    string public constant NAME = "PriceFeed";

    uint256 public constant DECIMAL_PRECISION = 1e18;
    uint256 public constant TARGET_DIGITS = 18;
    uint256 public constant TIMEOUT = 14400; // 4 hours
    uint256 public constant MAX_PRICE_DEVIATION_FROM_PREVIOUS_ROUND = 5e17; // 50 %

    IDevAggregatorV3 public priceAggregator;
    address public tellorCaller; // no fallback contract on the devnet (see above)

    uint256 public lastGoodPrice;

    enum Status {
        chainlinkWorking,
        usingTellorChainlinkUntrusted,
        bothOraclesUntrusted,
        usingTellorChainlinkFrozen,
        usingChainlinkTellorUntrusted
    }

    Status public status;

    struct Response {
        uint80 roundId;
        int256 answer;
        uint256 timestamp;
        bool success;
        uint8 decimals;
    }

    event LastGoodPriceUpdated(uint256 _lastGoodPrice);
    event PriceFeedStatusChanged(Status newStatus);

    function setAddresses(address aggregator, address tellor) external onlyOwner {
        priceAggregator = IDevAggregatorV3(aggregator);
        tellorCaller = tellor;
        status = Status.chainlinkWorking;
        Response memory current = _current();
        Response memory previous = _previous(current.roundId, current.decimals);
        require(!_broken(current, previous) && !_frozen(current), "PriceFeed: Chainlink must be working and current");
        _store(current);
        _renounceOwnership();
    }

    function fetchPrice() external returns (uint256) {
        Response memory current = _current();
        Response memory previous = _previous(current.roundId, current.decimals);
        if (status == Status.chainlinkWorking) {
            if (_broken(current, previous)) {
                _changeStatus(Status.usingTellorChainlinkUntrusted);
                return lastGoodPrice;
            }
            if (_frozen(current)) {
                _changeStatus(Status.usingTellorChainlinkFrozen);
                return lastGoodPrice;
            }
            if (_jumped(current, previous)) {
                _changeStatus(Status.usingTellorChainlinkUntrusted);
                return lastGoodPrice;
            }
            return _store(current);
        }
        if (status == Status.usingTellorChainlinkFrozen && _broken(current, previous)) {
            _changeStatus(Status.usingTellorChainlinkUntrusted);
        }
        return lastGoodPrice;
    }

    function _broken(Response memory current, Response memory previous) internal view returns (bool) {
        return _bad(current) || _bad(previous);
    }

    function _bad(Response memory r) internal view returns (bool) {
        return !r.success || r.roundId == 0 || r.timestamp == 0 || r.timestamp > block.timestamp || r.answer <= 0;
    }

    function _frozen(Response memory r) internal view returns (bool) {
        return block.timestamp - r.timestamp > TIMEOUT;
    }

    function _jumped(Response memory current, Response memory previous) internal pure returns (bool) {
        uint256 a = _scale(uint256(current.answer), current.decimals);
        uint256 b = _scale(uint256(previous.answer), previous.decimals);
        uint256 low = a < b ? a : b;
        uint256 high = a < b ? b : a;
        return (high - low) * DECIMAL_PRECISION / high > MAX_PRICE_DEVIATION_FROM_PREVIOUS_ROUND;
    }

    /// An answer with `digits` decimals as an 18-decimal price (truncated when it has more).
    function _scale(uint256 answer, uint256 digits) internal pure returns (uint256) {
        if (digits >= TARGET_DIGITS) {
            return answer / 10 ** (digits - TARGET_DIGITS);
        }
        return answer * 10 ** (TARGET_DIGITS - digits);
    }

    function _store(Response memory r) internal returns (uint256) {
        uint256 price = _scale(uint256(r.answer), r.decimals);
        lastGoodPrice = price;
        emit LastGoodPriceUpdated(price);
        return price;
    }

    function _changeStatus(Status s) internal {
        status = s;
        emit PriceFeedStatusChanged(s);
    }

    function _current() internal view returns (Response memory r) {
        try priceAggregator.decimals() returns (uint8 d) {
            r.decimals = d;
        } catch {
            return r;
        }
        try priceAggregator.latestRoundData() returns (uint80 id, int256 answer, uint256, uint256 updatedAt, uint80) {
            r.roundId = id;
            r.answer = answer;
            r.timestamp = updatedAt;
            r.success = true;
        } catch {}
    }

    function _previous(uint80 roundId, uint8 decimals) internal view returns (Response memory r) {
        if (roundId == 0) {
            return r; // Liquity asks round 0 - 1, which reverts under 0.8 checked arithmetic: a bad response either way
        }
        try priceAggregator.getRoundData(roundId - 1) returns (uint80 id, int256 answer, uint256, uint256 updatedAt,
                                                              uint80) {
            r.roundId = id;
            r.answer = answer;
            r.timestamp = updatedAt;
            r.decimals = decimals;
            r.success = true;
        } catch {}
    }
}
