"""The Aave market's record in the devnet deployment file, read back."""

from __future__ import annotations

from typing import Any

from indexer.devnet.deployment import Deployment

KIND = "aave_v3"


def aave_record(deployment: Deployment) -> dict[str, Any]:
    """What :func:`~indexer.protocols.aave_v3.devnet.deploy.deploy_aave_v3` recorded on this devnet."""
    try:
        return deployment.protocols[KIND]
    except KeyError:
        raise KeyError(f"this devnet has no Aave v3 market (protocols: {sorted(deployment.protocols)})") from None


def emode_categories(deployment: Deployment) -> dict[int, dict[str, Any]]:
    """The market's eMode categories by id."""
    return {int(k): v for k, v in aave_record(deployment)["emode_categories"].items()}
