"""The pooler settings of IONOS clusters in a Terraform state, as `terraform show -json` prints it.

Read for `import --from-terraform-state`: no API request, only the document. Managed resources
of two types are read, in the root module and every child module:
`ionoscloud_pg_cluster` (v1: a `connection_pooler` block of `enabled` and `pool_mode`) and
`ionoscloud_pg_cluster_v2` (a `connection_pooler` string, DISABLED, TRANSACTION or SESSION).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from reconciler.errors import ConfigError
from reconciler.literal import literal
from reconciler.model import LiveCluster

V1, V2 = "ionoscloud_pg_cluster", "ionoscloud_pg_cluster_v2"
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_HINT = 'give the output of "terraform show -json" (of the state, not of a plan file)'


def _modules(module: Any) -> Iterator[dict[str, Any]]:
    if isinstance(module, dict):
        yield module
        for child in module.get("child_modules") or ():
            yield from _modules(child)


def _cluster_id(raw: Any, address: str) -> str:
    """`values.id`; the provider's import form `location:uuid` is taken for its uuid."""
    text = str(raw or "")
    tail = text.rpartition(":")[2]
    if not _UUID.fullmatch(tail):
        raise ConfigError(f"{address}: id {literal(raw)} is not a cluster id", hint=_HINT)
    return tail


def _v1_pooler(values: dict[str, Any], address: str) -> tuple[bool, str | None] | None:
    block = values.get("connection_pooler")
    if isinstance(block, list):  # a nested block is a list of one in the JSON state
        block = block[0] if block else None
    if block is None:
        return None
    enabled, mode = block.get("enabled") if isinstance(block, dict) else None, None
    if not isinstance(enabled, bool):
        raise ConfigError(f"{address}: connection_pooler.enabled is {literal(enabled)}")
    raw = block.get("pool_mode")
    if raw not in (None, ""):
        mode = str(raw).lower()
    return enabled, mode


def _v2_pooler(values: dict[str, Any], address: str) -> tuple[bool, str | None] | None:
    raw = values.get("connection_pooler")
    if raw is None:
        return None
    text = str(raw).upper()
    if text == "DISABLED":
        return False, None
    if text in ("TRANSACTION", "SESSION"):
        return True, text.lower()
    if text == "ENABLED":  # on, with the API's choice of mode: the mode is left unmanaged
        return True, None
    raise ConfigError(
        f"{address}: connection_pooler is {literal(raw)}: expected DISABLED, TRANSACTION or SESSION"
    )


def clusters(document: Any) -> tuple[list[LiveCluster], list[str]]:
    """The clusters the state holds, by id, and what was left out and why."""
    values = document.get("values") if isinstance(document, dict) else None
    if not isinstance(values, dict):
        raise ConfigError('the document has no "values": it is not a Terraform state', hint=_HINT)
    found: dict[str, LiveCluster] = {}
    skipped: list[str] = []
    for module in _modules(values.get("root_module")):
        for resource in module.get("resources") or ():
            kind = resource.get("type")
            if resource.get("mode") != "managed" or kind not in (V1, V2):
                continue
            address = str(resource.get("address", kind))
            props = resource.get("values") or {}
            pooler = (_v1_pooler if kind == V1 else _v2_pooler)(props, address)
            if pooler is None:
                skipped.append(f"{address}: no connection_pooler in the state")
                continue
            cid = _cluster_id(props.get("id"), address)
            name = str(props.get("display_name" if kind == V1 else "name") or "")
            cluster = LiveCluster(cid, name, "AVAILABLE", pooler[0], pooler[1])
            earlier = found.get(cid.lower())
            if earlier is not None and earlier.pooler() != cluster.pooler():
                raise ConfigError(f"{address}: cluster {cid} is in the state twice, differently")
            found[cid.lower()] = cluster
    return sorted(found.values(), key=lambda c: (c.name, c.id.lower())), skipped


def read(path: str) -> tuple[list[LiveCluster], list[str]]:
    """`clusters` of the JSON document in the file at `path`."""
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not JSON: {exc}", hint=_HINT) from exc
    return clusters(document)
