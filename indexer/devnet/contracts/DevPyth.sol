// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title DevPyth
/// @notice A devnet stand-in for the Pyth pull oracle's read side: the same `Price` struct, read functions,
///         custom errors and `PriceFeedUpdate` event as the real contract, so the same selectors, return
///         encoding and topic0. Instead of verified update payloads it has an unrestricted `setPrice` that
///         stores whatever it is given: publish times may go backwards, lie in the future or be 0, which is
///         how tests stage stale, out-of-order and odd prices. The EMA price simply mirrors the last price.
contract DevPyth {
    struct Price {
        int64 price;
        uint64 conf;
        int32 expo;
        uint256 publishTime;
    }

    error PriceFeedNotFound();
    error StalePrice();

    event PriceFeedUpdate(bytes32 indexed id, uint64 publishTime, int64 price, uint64 conf);

    mapping(bytes32 => Price) private _prices;
    // kept apart from the price so that publishTime 0 still counts as "set" (the real contract has no flag)
    mapping(bytes32 => bool) private _exists;

    // ------------------------------------------------------------------ writer (unrestricted: devnet only)

    /// @notice Makes `price * 10^expo` (± `conf * 10^expo`), published at `publishTime`, the price of `id`.
    function setPrice(bytes32 id, int64 price, uint64 conf, int32 expo, uint64 publishTime) external {
        _prices[id] = Price(price, conf, expo, publishTime);
        _exists[id] = true;
        emit PriceFeedUpdate(id, publishTime, price, conf);
    }

    // ------------------------------------------------------------------ IPyth reads

    function priceFeedExists(bytes32 id) external view returns (bool) {
        return _exists[id];
    }

    function getPriceUnsafe(bytes32 id) public view returns (Price memory) {
        return _stored(id);
    }

    function getEmaPriceUnsafe(bytes32 id) public view returns (Price memory) {
        return _stored(id);
    }

    /// @notice Reverts with `StalePrice()` when the publish time is more than `age` seconds away from now,
    ///         measured both ways as Pyth does, so a future-dated price can be stale too (and never underflows).
    function getPriceNoOlderThan(bytes32 id, uint256 age) external view returns (Price memory) {
        return _fresh(getPriceUnsafe(id), age);
    }

    function getEmaPriceNoOlderThan(bytes32 id, uint256 age) external view returns (Price memory) {
        return _fresh(getEmaPriceUnsafe(id), age);
    }

    // ------------------------------------------------------------------ internals

    function _stored(bytes32 id) private view returns (Price memory) {
        if (!_exists[id]) revert PriceFeedNotFound();
        return _prices[id];
    }

    function _fresh(Price memory p, uint256 age) private view returns (Price memory) {
        uint256 gap = block.timestamp > p.publishTime ? block.timestamp - p.publishTime : p.publishTime - block.timestamp;
        if (gap > age) revert StalePrice();
        return p;
    }
}
