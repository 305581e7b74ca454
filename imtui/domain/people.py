"""People and roles (docs/design.md, "People and roles"): who may see and do what.

Three roles, each including the one before it:

- **viewer** — reads everything in their accounts;
- **operator** — also resends, dismisses, edits orders and ship-method mappings;
- **admin** — also adds accounts and changes connections, credentials and contacts.

Each person is scoped to some accounts or to all. The rules here are pure: the store finds the
person (:mod:`imtui.store.people`), the actions ask :meth:`Access.refusal` before they change
anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from imtui.domain.states import ALL_ACCOUNTS_ACTS as ALL_ACCOUNTS_ACTS
from imtui.domain.states import Act as Act
from imtui.domain.states import Role as Role


@dataclass(frozen=True, slots=True)
class Access:
    """One person's role and scope on one database."""

    login: str
    role: Role | None
    """None: not an imtui user of this database (they may do nothing)."""
    accounts: frozenset[int] | None = None
    """The accounts they may see and act on; None: every account."""
    owner: bool = False
    """The database's owner (the workers' login): admin of every account, whatever the
    person table says."""

    def sees(self, account_id: int | None) -> bool:
        if self.role is None:
            return False
        return self.accounts is None or account_id in self.accounts

    def may(self, act: Act, account_id: int | None = None) -> bool:
        return self.refusal(act, account_id) is None

    def role_refusal(self, act: Act) -> str | None:
        """Why this person's role does not allow ``act`` in any account; None: it does (what
        a screen hides, whatever row is under the cursor)."""
        if self.role is None:
            return (
                f"{self.login} is not an imtui user of this database: "
                "an admin adds people with `imtui people add`"
            )
        if self.role.rank < act.needs.rank:
            return f"{self.login} is {_a(self.role)}: to {act} needs {_a(act.needs)}"
        return None

    def refusal(self, act: Act, account_id: int | None = None) -> str | None:
        """Why this person may not do ``act`` (on ``account_id``), in one line; None: they may."""
        by_role = self.role_refusal(act)
        if by_role is not None:
            return by_role
        if act in ALL_ACCOUNTS_ACTS:
            if self.accounts is not None:
                return f"{self.login} may not {act}: that needs {_a(act.needs)} of every account"
        elif not self.sees(account_id):
            return f"{self.login} may not {act} for that account: it is not among theirs"
        return None


def _a(role: Role) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"
