"""/admin/taxonomy: categories and support types with Japanese and English labels.

Staff read, admins replace the whole list (optimistic: the body names the
version it was edited from; someone else's save in between answers 409).
Ids are never renamed or removed; an entry no longer offered is set to
`active: false` (hidden on the form, still labelled on old cases). Until the
first edit the lists come from the deployment file (version 0).
"""

from __future__ import annotations

from typing import Annotated, Literal

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib import runtime
from chalicelib.admin.auth import admin_route, ok, parse_body
from chalicelib.core import directory
from chalicelib.core.access import Actor
from chalicelib.core.taxonomy import MAX_ENTRIES, Entry, Taxonomy
from chalicelib.runtime import get_deployment, get_settings

bp = Blueprint(__name__)

# Every Lambda function imports this module and only an admin request uses it:
# the models build their validators on first use (defer_build, cold start).


class TaxonomyIn(BaseModel):
    """The whole taxonomy as an admin sends it, with the version it was read at."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    version: Annotated[int, Field(ge=0)]
    categories: Annotated[list[Entry], Field(min_length=1, max_length=MAX_ENTRIES)]
    support_types: Annotated[list[Entry], Field(min_length=1, max_length=MAX_ENTRIES)]


class TaxonomyOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    version: int
    # "deployment": never edited, the deployment file's lists.
    source: Literal["stored", "deployment"]
    categories: list[Entry]
    support_types: list[Entry]
    changed: list[str] = []


def _out(taxonomy: Taxonomy, changed: list[str] | None = None) -> Response:
    body = TaxonomyOut(
        version=taxonomy.version,
        source="stored" if taxonomy.version > 0 else "deployment",
        categories=taxonomy.categories,
        support_types=taxonomy.support_types,
        changed=changed or [],
    )
    return ok(body.model_dump(mode="json"))


@admin_route(
    bp,
    "/admin/taxonomy",
    method="GET",
    role="staff",
    summary="Categories and support types (ja/en labels, active or not) and their version",
    response=TaxonomyOut,
)
def read_taxonomy(actor: Actor) -> Response:
    # Read fresh, not from the cache: the version must be the stored one.
    return _out(directory.current_taxonomy(runtime.admin_store(), get_deployment(), runtime.now()))


@admin_route(
    bp,
    "/admin/taxonomy",
    method="PUT",
    role="admin",
    summary="Replace categories and support types (keep every id; deactivate instead of removing)",
    body=TaxonomyIn,
    response=TaxonomyOut,
)
def replace_taxonomy(actor: Actor) -> Response:
    body: TaxonomyIn = parse_body(bp.current_request, TaxonomyIn)
    proposed = Taxonomy(
        categories=body.categories, support_types=body.support_types, version=body.version
    )
    stored, changed = directory.save_taxonomy(
        runtime.admin_store(),
        actor,
        proposed,
        deployment=get_deployment(),
        now=runtime.now(),
        settings=get_settings(),
    )
    if changed:
        runtime.forget_directory()
    return _out(stored, changed)
