"""What reconciler assumes about each API's answers, and where each assumption comes from.

Every assumption names the part of the project's API notes (`ionos-api.md` for v1,
`ionos-api-v2.md` for v2) it was taken from, so that a difference doctor finds points at the
sentence to correct. Values the code itself depends on (the states, the pooler values) are taken
from the dialects, not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.dialects import v1, v2
from reconciler.model import POOL_MODES

DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


@dataclass(frozen=True)
class Shape:
    """The keys of the objects at `where` ("" the top level, "a.b" nested, "a[]" each item of a
    list). `absent`: keys assumed never to be there, each with what we assumed."""

    where: str
    required: tuple[str, ...]
    section: str
    optional: tuple[str, ...] = ()
    absent: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Enum:
    """The values known at `path`."""

    path: str
    values: tuple[str, ...]
    section: str


@dataclass(frozen=True)
class Expectations:
    api: str
    #: the pooler's wire form: "object" (v1) or "string" (v2)
    pooler: str
    pooler_values: tuple[str, ...]
    #: whether a missing pooler block is a documented variant (v1: older clusters)
    pooler_missing_seen: bool
    shapes: tuple[Shape, ...]
    kinds: dict[str, str]
    enums: tuple[Enum, ...]
    list_shapes: tuple[Shape, ...]
    #: the page size the notes say the API uses when no limit is sent (None: an open question)
    default_page_size: int | None
    #: the part of the notes each topic comes from
    sections: dict[str, str]


def _kinds(kind: str, *paths: str) -> dict[str, str]:
    return dict.fromkeys(paths, kind)


_V1 = "ionos-api.md § "
_V1_SHAPES = _V1 + "Shapes (wire names)"

V1 = Expectations(
    api="v1",
    pooler="object",
    pooler_values=POOL_MODES,
    pooler_missing_seen=True,
    shapes=(
        Shape("", ("type", "id", "metadata", "properties"), _V1_SHAPES),
        Shape(
            "metadata",
            (
                "createdDate",
                "createdBy",
                "createdByUserId",
                "lastModifiedDate",
                "lastModifiedBy",
                "lastModifiedByUserId",
                "state",
            ),
            _V1_SHAPES,
        ),
        Shape(
            "properties",
            (
                "displayName",
                "postgresVersion",
                "location",
                "dnsName",
                "backupLocation",
                "instances",
                "ram",
                "cores",
                "storageSize",
                "storageType",
                "connections",
                "maintenanceWindow",
                "synchronizationMode",
            ),
            _V1_SHAPES,
            # the pooler has checks of its own
            optional=("connectionPooler",),
        ),
        Shape("properties.connections[]", ("datacenterId", "lanId", "cidr"), _V1_SHAPES),
        Shape("properties.maintenanceWindow", ("time", "dayOfTheWeek"), _V1_SHAPES),
    ),
    kinds={
        **_kinds("a string", "id", "type", "metadata.state", "metadata.lastModifiedDate"),
        **_kinds("an object", "metadata", "properties", "properties.maintenanceWindow"),
        **_kinds(
            "a string",
            "properties.displayName",
            "properties.postgresVersion",
            "properties.location",
            "properties.dnsName",
            "properties.backupLocation",
            "properties.storageType",
            "properties.synchronizationMode",
        ),
        **_kinds(
            "a number",
            "properties.instances",
            "properties.ram",
            "properties.cores",
            "properties.storageSize",
        ),
        "properties.connections": "a list",
    },
    enums=(
        Enum("type", ("cluster",), _V1_SHAPES),
        Enum("metadata.state", v1.STATES, _V1 + "States and the life of a change"),
        Enum("properties.storageType", ("HDD", "SSD", "SSD Standard", "SSD Premium"), _V1_SHAPES),
        Enum(
            "properties.synchronizationMode",
            ("ASYNCHRONOUS", "SYNCHRONOUS", "STRICTLY_SYNCHRONOUS"),
            _V1_SHAPES,
        ),
        Enum("properties.maintenanceWindow.dayOfTheWeek", DAYS, _V1_SHAPES),
    ),
    list_shapes=(
        Shape("", ("type", "id", "items", "offset", "limit", "links"), _V1_SHAPES),
        Shape("links", ("self",), _V1_SHAPES, optional=("prev", "next")),
    ),
    default_page_size=100,
    sections={
        "shapes": _V1_SHAPES,
        "pooler": _V1_SHAPES,
        "paging": _V1 + "Endpoints used",
        "hosts": _V1 + "Version and base URL",
        "auth": _V1 + "Authentication",
        "rate": _V1 + "Retries in the official clients (the bar to beat)",
    },
)

_V2 = "ionos-api-v2.md §"
_V2_SHAPES = _V2 + "3.1"
_NEVER_RETURNED = (
    "a GET never returns {key} (open: §11, question {question}; the emulator never does; "
    "reconciler never sends it back either way)"
)

V2 = Expectations(
    api="v2",
    pooler="string",
    # the values the dialect maps, in its own words
    pooler_values=(
        v2.wire_pooler({"enabled": False}),
        *(v2.wire_pooler({"enabled": True, "poolMode": mode}) for mode in POOL_MODES),
    ),
    pooler_missing_seen=False,
    shapes=(
        Shape("", ("id", "type", "href", "metadata", "properties"), _V2_SHAPES),
        Shape(
            "metadata",
            (
                "createdDate",
                "createdBy",
                "createdByUserId",
                "lastModifiedDate",
                "lastModifiedBy",
                "lastModifiedByUserId",
                "resourceURN",
                "state",
                "dnsName",
            ),
            _V2_SHAPES,
            optional=("statusMessage",),
        ),
        Shape(
            "properties",
            (
                "name",
                "version",
                "instances",
                "connection",
                "maintenanceWindow",
                "replicationMode",
                "backup",
            ),
            _V2_SHAPES,
            optional=("description", "logsEnabled", "metricsEnabled", "connectionPooler"),
            absent={
                key: _NEVER_RETURNED.format(key=key, question=question)
                for key, question in (("credentials", 2), ("restoreFromBackup", 13))
            },
        ),
        Shape("properties.instances", ("count", "ram", "cores", "storageSize"), _V2_SHAPES),
        Shape(
            "properties.connection",
            ("datacenterId", "lanId", "primaryInstanceAddress"),
            _V2_SHAPES,
        ),
        Shape("properties.maintenanceWindow", ("time", "dayOfTheWeek"), _V2_SHAPES),
        Shape("properties.backup", ("location", "retentionDays"), _V2_SHAPES),
    ),
    kinds={
        **_kinds("a string", "id", "type", "href", "metadata.state", "metadata.lastModifiedDate"),
        **_kinds(
            "an object",
            "metadata",
            "properties",
            "properties.instances",
            "properties.connection",
            "properties.maintenanceWindow",
            "properties.backup",
        ),
        **_kinds(
            "a string",
            "properties.name",
            "properties.description",
            "properties.version",
            "properties.replicationMode",
        ),
        **_kinds(
            "a number",
            "properties.instances.count",
            "properties.instances.ram",
            "properties.instances.cores",
            "properties.instances.storageSize",
            "properties.backup.retentionDays",
        ),
        **_kinds("a boolean", "properties.logsEnabled", "properties.metricsEnabled"),
    },
    enums=(
        Enum("type", ("cluster",), _V2_SHAPES),
        Enum("metadata.state", v2.STATES, _V2 + "4"),
        Enum("properties.replicationMode", ("ASYNCHRONOUS", "STRICTLY_SYNCHRONOUS"), _V2_SHAPES),
        Enum("properties.maintenanceWindow.dayOfTheWeek", DAYS, _V2_SHAPES),
    ),
    list_shapes=(
        Shape("", ("id", "type", "href", "items", "offset", "limit", "_links"), _V2 + "3.2"),
        Shape("_links", ("self",), _V2 + "3.2", optional=("prev", "next")),
    ),
    default_page_size=None,
    sections={
        "shapes": _V2_SHAPES,
        "pooler": _V2_SHAPES,
        "paging": _V2 + "2.1",
        "hosts": _V2 + "1.1",
        "auth": _V2 + "6",
        "rate": _V2 + "6",
    },
)

BY_API = {"v1": V1, "v2": V2}
