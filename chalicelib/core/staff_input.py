"""A staff member as an admin enters it (the admin API's body, the console's form): one
model, so both refuse the same input."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.core.consultation import Email
from chalicelib.core.staff import STAFF_ID_PATTERN, StaffMember, StaffRole
from chalicelib.core.taxonomy import one_line


class StaffIn(BaseModel):
    """A staff member as an admin sends it (unknown fields refused)."""

    # Built on first use: only admin requests read it (cold start).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    staff_id: Annotated[str, Field(pattern=STAFF_ID_PATTERN)]
    # A role label such as "職員A" (shown in lists and the audit log's targets).
    display_name: Annotated[str, one_line(64)]
    email: Email
    notify: bool = True
    may_act_by_email: bool = True
    active: bool = True
    # The console role (signed in by mail at /console/): admin edits, staff reads.
    role: StaffRole = "staff"

    def member(self) -> StaffMember:
        return StaffMember.model_validate(self.model_dump())
