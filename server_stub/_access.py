"""The access check of every request: token, then tenant and project, then role and scope.

A pure function of the headers, so each refusal is easy to test and names exactly what is
wrong. Header values are quoted back only when short and free of the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ._errors import ApiError
from .auth import Principal

__all__ = ["Access", "authorize"]


@dataclass(frozen=True, slots=True)
class Access:
    """A request that passed the check: who is calling, and in which project (if named)."""

    principal: Principal
    project: str | None

    @property
    def tenant(self) -> str:
        return self.principal.tenant

    @property
    def visible_projects(self) -> frozenset[str]:
        """The projects this request may see: the named one, or all of the token's."""
        return frozenset({self.project}) if self.project else self.principal.projects


def _quoted(value: str, secret: str) -> str:
    if secret and secret in value:
        return "(value withheld)"
    return repr(value if len(value) <= 64 else value[:61] + "...")


def authorize(
    tokens: Mapping[str, Principal],
    authorization: str | None,
    tenant_id: str | None,
    project_id: str | None,
    *,
    role: str,
    scope: str,
    project_required: bool,
) -> Access:
    """Check a request's credentials; raise ``ApiError`` 401 or 403 saying what is wrong."""
    if not authorization or not authorization.strip():
        raise ApiError(401, "missing credentials: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "malformed Authorization header: expected 'Bearer <token>'")
    principal = tokens.get(token)
    if principal is None:
        raise ApiError(401, "unknown or revoked token")
    if not tenant_id:
        raise ApiError(403, "missing X-Tenant-Id header: name the tenant (workspace slug)")
    if tenant_id != principal.tenant:
        raise ApiError(
            403, f"wrong tenant: this token is not valid for tenant {_quoted(tenant_id, token)}"
        )
    if not project_id:
        if project_required:
            raise ApiError(403, "missing X-Project-Id header: this endpoint is project-scoped")
    elif project_id not in principal.projects:
        raise ApiError(
            403, f"wrong project: this token has no access to project {_quoted(project_id, token)}"
        )
    if not principal.has_role(role):
        raise ApiError(
            403, f'missing role "{role}": this token\'s user is "{principal.role}" in the project'
        )
    if scope not in principal.scopes:
        raise ApiError(403, f'missing scope "{scope}": this token does not carry it')
    return Access(principal=principal, project=project_id or None)
