"""Who may call what: principals behind tokens, the role ladder, and the demo identity.

The platform checks two things independently (API.md part 1): the user's role in the project and
the token's scopes. Both must allow an operation, so the stub checks both and names the one that
is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "DEMO_CONTRIBUTOR_TOKEN",
    "DEMO_PROJECT",
    "DEMO_TENANT",
    "DEMO_TOKENS",
    "DEMO_VIEWER_TOKEN",
    "ROLE_ADMIN",
    "ROLE_CONTRIBUTOR",
    "ROLE_VIEWER",
    "SCOPE_READ",
    "SCOPE_RUN",
    "Principal",
]

ROLE_VIEWER = "project_viewer"
ROLE_CONTRIBUTOR = "project_contributor"
ROLE_ADMIN = "project_admin"
# "X and up" in the docs: a higher rank includes everything a lower one may do.
_ROLE_RANK: dict[str, int] = {ROLE_VIEWER: 0, ROLE_CONTRIBUTOR: 1, ROLE_ADMIN: 2}

SCOPE_READ = "workflow:read"
SCOPE_RUN = "workflow:run"


@dataclass(frozen=True, slots=True)
class Principal:
    """What a token stands for: a user's role in a tenant's projects, narrowed by token scopes."""

    tenant: str
    projects: frozenset[str]
    role: str
    scopes: frozenset[str]

    def has_role(self, required: str) -> bool:
        """True when this principal's role is ``required`` or ranks above it."""
        return _ROLE_RANK.get(self.role, -1) >= _ROLE_RANK[required]


DEMO_TENANT = "demo"
DEMO_PROJECT = "demo-project"
DEMO_CONTRIBUTOR_TOKEN = "pat_demo_contributor"
DEMO_VIEWER_TOKEN = "pat_demo_viewer"

# Read-only: tests and the CLI share it, and a stray assignment must not grant access elsewhere.
DEMO_TOKENS: Mapping[str, Principal] = MappingProxyType(
    {
        DEMO_CONTRIBUTOR_TOKEN: Principal(
            tenant=DEMO_TENANT,
            projects=frozenset({DEMO_PROJECT}),
            role=ROLE_CONTRIBUTOR,
            scopes=frozenset({SCOPE_READ, SCOPE_RUN}),
        ),
        DEMO_VIEWER_TOKEN: Principal(
            tenant=DEMO_TENANT,
            projects=frozenset({DEMO_PROJECT}),
            role=ROLE_VIEWER,
            scopes=frozenset({SCOPE_READ}),
        ),
    }
)
