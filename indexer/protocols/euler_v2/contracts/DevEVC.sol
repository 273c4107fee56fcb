// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IDevAccountStatus {
    function checkAccountStatus(address account, address[] calldata collaterals) external view returns (bytes4);
}

/// @title DevEVC
/// @notice A devnet stand-in for the Ethereum Vault Connector (euler-xyz/ethereum-vault-connector,
///         src/EthereumVaultConnector.sol) with the same external functions, events and errors for what positions
///         use: sub-accounts, controllers and collaterals, owner registration, `call` / `controlCollateral` with an
///         on-behalf-of account and deferred account status checks, and the last-check timestamp.
///
///         The rules kept from the real contract:
///         - an owner has 256 accounts: account = owner XOR id (id 0..255), so all share the owner's first 19 bytes
///           (the address prefix, `account >> 8`); `haveCommonOwner` compares prefixes;
///         - the owner of a prefix is registered by the first owner-authenticated call from an address of that
///           prefix (`OwnerRegistered`); later calls from another address of the prefix are refused;
///         - an account has at most one controller when its status is checked (`EVC_ControllerViolation`);
///           a check calls `controller.checkAccountStatus(account, collaterals)` and records `block.timestamp`;
///         - inside `call` / `controlCollateral` checks are deferred to the end of the outermost call; a vault
///           calling `call` on itself (its `callThroughEVC` pattern) needs no authentication.
///
///         Simplified away: operators, permits, nonces, lockdown and permit-disabled modes, batches and simulation,
///         vault status checks (accepted and ignored: the devnet vaults have no caps), value forwarding rules. Kept:
///         at most 10 collaterals and controllers per account, removal by swapping with the last element (so
///         disabling one may reorder the list, as the real Set does).
contract DevEVC {
    event OwnerRegistered(bytes19 indexed addressPrefix, address indexed owner);
    event CollateralStatus(address indexed account, address indexed collateral, bool enabled);
    event ControllerStatus(address indexed account, address indexed controller, bool enabled);
    event AccountStatusCheck(address indexed account, address indexed controller);

    error EVC_NotAuthorized();
    error EVC_InvalidAddress();
    error EVC_ControllerViolation();
    error EVC_ChecksReentrancy();
    error EVC_ControlCollateralReentrancy();
    error EVC_OnBehalfOfAccountNotAuthenticated();
    error EVC_EmptyError();
    error TooManyElements();

    uint256 internal constant MAX_ELEMENTS = 10;

    mapping(bytes19 => address) internal owners;
    mapping(address => address[]) internal controllerSet;
    mapping(address => address[]) internal collateralSet;
    mapping(address => uint256) internal lastCheck;

    address internal onBehalfOf;
    bool internal deferring;
    bool internal checking;
    bool internal controllingCollateral;
    address[] internal deferred;
    mapping(address => bool) internal isDeferred;

    // ------------------------------------------------------------------ owners

    function getAddressPrefix(address account) public pure returns (bytes19) {
        return bytes19(uint152(uint160(account) >> 8));
    }

    function haveCommonOwner(address account, address otherAccount) public pure returns (bool) {
        return (uint160(account) ^ uint160(otherAccount)) < 0x100;
    }

    function getAccountOwner(address account) external view returns (address) {
        return owners[getAddressPrefix(account)];
    }

    // ------------------------------------------------------------------ views

    function getControllers(address account) external view returns (address[] memory) {
        return controllerSet[account];
    }

    function getCollaterals(address account) external view returns (address[] memory) {
        return collateralSet[account];
    }

    function isControllerEnabled(address account, address vault) external view returns (bool) {
        return _contains(controllerSet[account], vault);
    }

    function isCollateralEnabled(address account, address vault) external view returns (bool) {
        return _contains(collateralSet[account], vault);
    }

    function getLastAccountStatusCheckTimestamp(address account) external view returns (uint256) {
        if (checking) revert EVC_ChecksReentrancy();
        return lastCheck[account];
    }

    function isAccountStatusCheckDeferred(address account) external view returns (bool) {
        if (checking) revert EVC_ChecksReentrancy();
        return isDeferred[account];
    }

    function areChecksDeferred() external view returns (bool) {
        return deferring;
    }

    function areChecksInProgress() external view returns (bool) {
        return checking;
    }

    function isControlCollateralInProgress() external view returns (bool) {
        return controllingCollateral;
    }

    function getCurrentOnBehalfOfAccount(address controllerToCheck)
        external
        view
        returns (address account, bool controllerEnabled)
    {
        account = onBehalfOf;
        if (account == address(0)) revert EVC_OnBehalfOfAccountNotAuthenticated();
        controllerEnabled = controllerToCheck != address(0) && _contains(controllerSet[account], controllerToCheck);
    }

    // ------------------------------------------------------------------ controllers and collaterals

    function enableCollateral(address account, address vault) external payable {
        _notReentrant();
        _authenticate(account);
        if (vault == address(this)) revert EVC_InvalidAddress();
        if (_insert(collateralSet[account], vault)) emit CollateralStatus(account, vault, true);
        requireAccountStatusCheck(account);
    }

    function disableCollateral(address account, address vault) external payable {
        _notReentrant();
        _authenticate(account);
        if (_remove(collateralSet[account], vault)) emit CollateralStatus(account, vault, false);
        requireAccountStatusCheck(account);
    }

    function enableController(address account, address vault) external payable {
        _notReentrant();
        _authenticate(account);
        if (vault == address(this)) revert EVC_InvalidAddress();
        if (_insert(controllerSet[account], vault)) emit ControllerStatus(account, vault, true);
        requireAccountStatusCheck(account);
    }

    /// @notice Called by the controller itself (a vault releasing an account without debt).
    function disableController(address account) external payable {
        _notReentrant();
        if (_remove(controllerSet[account], msg.sender)) emit ControllerStatus(account, msg.sender, false);
        requireAccountStatusCheck(account);
    }

    // ------------------------------------------------------------------ calls

    function call(address targetContract, address onBehalfOfAccount, uint256 value, bytes calldata data)
        external
        payable
        returns (bytes memory result)
    {
        _notReentrant();
        if (targetContract == address(this)) revert EVC_InvalidAddress();
        // a vault calling itself back through the EVC has authenticated msg.sender on its own
        if (targetContract != msg.sender) _authenticate(onBehalfOfAccount);
        result = _callWithContext(targetContract, onBehalfOfAccount, value, data, false);
    }

    function controlCollateral(address targetCollateral, address onBehalfOfAccount, uint256 value, bytes calldata data)
        external
        payable
        returns (bytes memory result)
    {
        _notReentrant();
        _onlyController(onBehalfOfAccount);
        if (!_contains(collateralSet[onBehalfOfAccount], targetCollateral)) revert EVC_NotAuthorized();
        result = _callWithContext(targetCollateral, onBehalfOfAccount, value, data, true);
    }

    // ------------------------------------------------------------------ status checks

    function requireAccountStatusCheck(address account) public payable {
        if (deferring) {
            if (!isDeferred[account]) {
                isDeferred[account] = true;
                deferred.push(account);
            }
        } else {
            _checkAccount(account);
        }
    }

    /// @notice Vault status checks are accepted and ignored (the devnet vaults have no caps).
    function requireVaultStatusCheck() external payable {}

    function requireAccountAndVaultStatusCheck(address account) external payable {
        requireAccountStatusCheck(account);
    }

    function forgiveAccountStatusCheck(address account) external payable {
        if (checking) revert EVC_ChecksReentrancy();
        _onlyController(account);
        if (!isDeferred[account]) return;
        isDeferred[account] = false;
        uint256 n = deferred.length;
        for (uint256 i; i < n; ++i) {
            if (deferred[i] == account) {
                deferred[i] = deferred[n - 1];
                deferred.pop();
                return;
            }
        }
    }

    // ------------------------------------------------------------------ internals

    function _notReentrant() internal view {
        if (checking) revert EVC_ChecksReentrancy();
        if (controllingCollateral) revert EVC_ControlCollateralReentrancy();
    }

    function _authenticate(address account) internal {
        if (!haveCommonOwner(account, msg.sender)) revert EVC_NotAuthorized();
        bytes19 prefix = getAddressPrefix(account);
        address owner = owners[prefix];
        if (owner == address(0)) {
            owners[prefix] = msg.sender;
            emit OwnerRegistered(prefix, msg.sender);
        } else if (owner != msg.sender) {
            revert EVC_NotAuthorized();
        }
    }

    function _onlyController(address account) internal view {
        address[] storage set = controllerSet[account];
        if (set.length != 1) revert EVC_ControllerViolation();
        if (set[0] != msg.sender) revert EVC_NotAuthorized();
    }

    function _callWithContext(address target, address account, uint256 value, bytes calldata data, bool control)
        internal
        returns (bytes memory result)
    {
        address previousAccount = onBehalfOf;
        bool previousDeferring = deferring;
        bool previousControl = controllingCollateral;
        onBehalfOf = account;
        deferring = true;
        controllingCollateral = control;
        bool ok;
        (ok, result) = target.call{value: value}(data);
        if (!ok) _revertBytes(result);
        onBehalfOf = previousAccount;
        deferring = previousDeferring;
        controllingCollateral = previousControl;
        if (!previousDeferring) _runDeferredChecks();
    }

    function _runDeferredChecks() internal {
        while (deferred.length > 0) {
            address account = deferred[deferred.length - 1];
            deferred.pop();
            isDeferred[account] = false;
            _checkAccount(account);
        }
    }

    function _checkAccount(address account) internal {
        address[] storage controllers = controllerSet[account];
        if (controllers.length == 0) return;
        if (controllers.length > 1) revert EVC_ControllerViolation();
        address controller = controllers[0];
        bool previous = checking;
        checking = true;
        (bool ok, bytes memory result) =
            controller.call(abi.encodeCall(IDevAccountStatus.checkAccountStatus, (account, collateralSet[account])));
        checking = previous;
        if (!ok || result.length != 32 || bytes4(result) != IDevAccountStatus.checkAccountStatus.selector) {
            _revertBytes(result);
        }
        lastCheck[account] = block.timestamp;
        emit AccountStatusCheck(account, controller);
    }

    function _contains(address[] storage set, address element) internal view returns (bool) {
        for (uint256 i; i < set.length; ++i) {
            if (set[i] == element) return true;
        }
        return false;
    }

    function _insert(address[] storage set, address element) internal returns (bool) {
        if (_contains(set, element)) return false;
        if (set.length >= MAX_ELEMENTS) revert TooManyElements();
        set.push(element);
        return true;
    }

    function _remove(address[] storage set, address element) internal returns (bool) {
        uint256 n = set.length;
        for (uint256 i; i < n; ++i) {
            if (set[i] == element) {
                set[i] = set[n - 1];
                set.pop();
                return true;
            }
        }
        return false;
    }

    function _revertBytes(bytes memory data) internal pure {
        if (data.length > 0) {
            assembly {
                revert(add(32, data), mload(data))
            }
        }
        revert EVC_EmptyError();
    }
}
