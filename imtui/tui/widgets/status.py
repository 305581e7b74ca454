"""The top line: which account is in view, whether this process runs the engine and when its
next cycle is, and the counts that say whether anyone needs to act — email that does not get
through among them. And, on a small terminal, the strip that says which pane is showing."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from imtui.store.rows import HeaderCounts
from imtui.tui.text import clock_time, safe, zone_name

if TYPE_CHECKING:  # not at run time: the header paints before the database layer is loaded
    from imtui.store.outbox import OutboxCounts
    from imtui.tui.backend import Backend

EMAIL_COMPACT_BELOW = 20
"""The email counts shorten ("3 fail · 1 ref") when the full words would leave the engine and
the account fewer cells than this."""


class StatusHeader(Horizontal):
    """One line that always fits: the counts first (a person must always see them), then the
    engine, then the account's name (shortened to what is left), then the name of the program.

    Three parts — the account, the engine, the counts — each repainted only when its own text
    changes: the engine's next run moves once a cycle and costs a dozen cells, the counts
    change when something was committed; an idle dashboard sends nothing.

    The outbox's failing and refused emails stand first among the counts when there are any.
    They are read through the backend each time the other counts are (a new
    :class:`HeaderCounts` is a new read), in a worker, and shown with them.
    """

    class EmailRead(Message):
        """The outbox's counts, read for the header counts ``counts``."""

        def __init__(self, counts: HeaderCounts, email: OutboxCounts) -> None:
            super().__init__()
            self.counts = counts
            self.email = email

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._state: dict[str, Any] | None = None
        self._shown: dict[str, tuple[object, ...]] = {}
        self._email: OutboxCounts | None = None
        self._email_for: HeaderCounts | None = None
        """The header counts the email counts were (or are being) read with."""

    def compose(self) -> ComposeResult:
        yield Static(Content(" imtui"), id="header-account")
        yield Static(Content(""), id="header-engine")
        yield Static(Content(""), id="header-gap")
        yield Static(Content(""), id="header-counts")

    def show(
        self,
        *,
        account: str,
        runs_worker: bool,
        next_run: datetime | None,
        worker_error: str | None,
        counts: HeaderCounts | None,
        note: str | None = None,
        speed: float | None = None,
        elsewhere: bool | None = None,
    ) -> None:
        self._state = {
            "speed": speed,
            "elsewhere": elsewhere,
            "account": account,
            "runs_worker": runs_worker,
            "next_run": next_run,
            "worker_error": worker_error,
            "counts": counts,
            "note": note,
        }
        if counts is None:
            self._email = self._email_for = None
        elif counts is not self._email_for:
            self._email_for = counts
            self._read_email(counts)
        self._paint()

    def _read_email(self, counts: HeaderCounts) -> None:
        app = cast(Any, self.app)
        if app.backend_ready:
            self._fetch_email(app.backend, app.account_id, counts)

    @work(thread=True, exclusive=True, group="header-email", exit_on_error=False)
    def _fetch_email(self, backend: Backend, account_id: int | None, counts: HeaderCounts) -> None:
        try:
            email = backend.outbox_counts(account_id)
        except Exception:  # a locked or vanished database: the watcher says so, once
            return
        self.post_message(self.EmailRead(counts, email))

    @on(EmailRead)
    def _email_read(self, message: EmailRead) -> None:
        message.stop()
        if message.counts is self._email_for:  # else a newer read is on its way
            self._email = message.email
            self._paint()

    def on_resize(self) -> None:
        self._paint()

    def _paint(self) -> None:
        if self._state is None or not self.is_mounted:
            return
        account, engine, counts = header_parts(
            width=self.size.width or 80, email=self._email, **self._state
        )
        for name, content in (("account", account), ("engine", engine), ("counts", counts)):
            shown = (content.plain, tuple(content.spans))
            if shown != self._shown.get(name):  # unchanged: nothing is sent to the terminal
                self._shown[name] = shown
                self.query_one(f"#header-{name}", Static).update(content)

    @property
    def text(self) -> str:
        """The line as shown (for tests)."""
        return "  ".join(str(part[0]) for part in self._shown.values() if part[0])


def header_line(**state: Any) -> Content:
    """The header as one line (what :class:`StatusHeader` shows in three parts)."""
    account, engine, counts = header_parts(**state)
    width = int(state["width"])
    gap = max(2, width - account.cell_length - engine.cell_length - counts.cell_length - 3)
    return Content.assemble(account, "  ", engine, " " * gap, counts)


def header_parts(
    *,
    width: int,
    account: str,
    runs_worker: bool,
    next_run: datetime | None,
    worker_error: str | None,
    counts: HeaderCounts | None,
    note: str | None = None,
    speed: float | None = None,
    elsewhere: bool | None = None,
    email: OutboxCounts | None = None,
) -> tuple[Content, Content, Content]:
    """The account, the engine and the counts for a terminal ``width`` cells wide; a ``note``
    (opening the database, or why it could not be opened) stands where the engine's state
    goes. A ``speed`` says the engine's time runs that many times faster (the demo): every
    time on screen reads its clock. For a dashboard running no engine, ``elsewhere`` says
    whether one runs on the database all the same (None: not known). ``email`` puts the
    failing and refused emails first among the counts, when there are any."""
    right_text = count_parts(counts, email, width, LABELS)
    if width - right_text.cell_length - 3 < NEEDED_FOR_TIME:
        # A narrow terminal: short words, so the next cycle's time and the account still fit.
        right_text = count_parts(counts, email, width, SHORT_LABELS)
    room = width - right_text.cell_length - 3  # two cells between the halves, one at the end

    if note:
        choices, style = [note, note[: max(1, room - 1)] + "…"], "$text-muted"
    elif not runs_worker:
        # This one reads and acts, runs no cycles: does another process?
        if elsewhere is False:
            choices, style = ["no engine running!", "no engine!", "!"], "$error"
        elif elsewhere:
            choices, style = ["engine elsewhere", "elsewhere"], "$text-muted"
        else:
            choices, style = ["no engine here", "no engine"], "$text-muted"
    elif worker_error:
        error = safe(worker_error, limit=40)
        choices, style = [f"engine: {error}", "engine!", "!"], "$error"
    elif next_run is not None:
        at = clock_time(next_run)
        zone = zone_name(next_run)  # the one zone every time on screen is in, named
        choices = [f"engine ⟳{at} {zone}", f"engine ⟳{at}", f"⟳{at}", "⟳"]
        style = "$success"
        if speed:
            fast = f"time ×{speed:g}"
            choices = [
                f"engine ⟳{at} {zone} {fast}",
                f"engine ⟳{at} {fast}",
                f"⟳{at} {fast}",
                f"⟳ {fast}",
                *choices[2:],
            ]
    else:
        choices, style = ["engine on", "on"], "$success"
    name = safe(account, limit=60)
    wanted = min(len(name), 8)  # the account's name matters more than the word "engine"
    fitting = [c for c in choices if len(c) <= room]
    shortest = fitting[-1] if fitting else ""
    engine = next((c for c in fitting if room - len(c) - 2 >= wanted), shortest)

    brand = " imtui "
    left_room = room - len(engine) - 2
    left: list[tuple[str, str]] = [(" ", "")]
    if left_room - len(brand) >= min(len(name), 12):
        left = [(brand, "bold reverse"), (" ", "")]
        left_room -= len(brand)
    name = _shorten(name, left_room)
    if name:
        left.append((name, "bold"))
    return Content.assemble(*left), Content.styled(engine, style), right_text


LABELS = {"alerts": "alerts", "act": "act", "due": "due", "held": "held", "skip": "skip"}
SHORT_LABELS = {"alerts": "alr", "act": "act", "due": "due", "held": "hld", "skip": "skp"}
NEEDED_FOR_TIME = len("⟳00:00:00") + 2 + 8
"""Cells the engine's next cycle and eight of the account's name take, with the gap."""


def count_parts(
    counts: HeaderCounts | None, email: OutboxCounts | None, width: int, labels: dict[str, str]
) -> Content:
    """The header's counts: paused connections and failing email first when there are any,
    then alerts, act, due, held, skip — always all five, in ``labels``' words."""
    right: list[tuple[str, str]] = []
    if counts is not None and counts.setup is not None and counts.setup.paused:
        # A paused connection reads and sends nothing: first, like email that fails — those
        # whose credentials the remote refused apart ("auth"), a person paused the others.
        rejected = sum(1 for paused in counts.setup.paused if paused.rejected)
        if rejected:
            right += _count("auth✗", rejected, "$error bold")
        if len(counts.setup.paused) > rejected:
            right += _count("paused", len(counts.setup.paused) - rejected, "$error bold")
    if counts is not None:
        right += _count(labels["alerts"], counts.open_alerts, "$warning")
        right += _count(labels["act"], counts.needs_person, "$error bold")
        right += _count(labels["due"], counts.due_now, "")
        right += _count(labels["held"], counts.held, "$error")
        right += _count(labels["skip"], counts.skipped, "$error", last=True)
    right_text = Content.assemble(*right)
    if counts is not None and email is not None:
        right_text = _with_email(right_text, email, width)
    return right_text


def _with_email(counts: Content, email: OutboxCounts, width: int) -> Content:
    """``✉ 3 failing · 1 refused · `` before the other counts (nothing when all is well), in
    shorter words if the full ones would crowd out the rest of the line."""
    full = Content.assemble(*email_parts(email), counts)
    if full.cell_length == counts.cell_length or width - full.cell_length >= EMAIL_COMPACT_BELOW:
        return full
    return Content.assemble(*email_parts(email, compact=True), counts)


def email_parts(email: OutboxCounts, *, compact: bool = False) -> list[tuple[str, str]]:
    """The failing (still retried) and refused (for good: a person must fix the contact)
    emails as header text, each with its separator; empty when there are none."""
    failing, refused = ("fail", "ref") if compact else ("failing", "refused")
    parts: list[tuple[str, str]] = []
    for value, word, style in (
        (email.failing, failing, "$warning"),
        (email.failed, refused, "$warning bold"),
    ):
        if value:
            parts += [(f"{compact_number(value)} {word}", style), (" · ", "$text-muted")]
    return [("✉ ", "$warning"), *parts] if parts else []


def _shorten(text: str, room: int) -> str:
    if room < 4:
        return ""
    return text if len(text) <= room else text[: max(0, room - 1)] + "…"


def compact_number(value: int) -> str:
    """Exact up to 9,999; then 12k, 1.2M — a header has no room for 1,000,000."""
    if value < 10_000:
        return str(value)
    if value < 1_000_000:
        return f"{value // 1000}k"
    return f"{value / 1_000_000:.1f}M".replace(".0M", "M")


def _count(label: str, value: int, style: str, *, last: bool = False) -> list[tuple[str, str]]:
    parts = [(f"{label} {compact_number(value)}", style if value else "")]
    if not last:
        parts.append((" · ", "$text-muted"))
    return parts


class PaneTabs(Static):
    """``1 Alerts  2 Orders  3 Queue`` with the pane on screen highlighted."""

    def show(self, active: str, labels: list[tuple[str, str]]) -> None:
        parts: list[tuple[str, str]] = []
        for name, label in labels:
            style = "reverse bold" if name == active else "$text-muted"
            parts.append((f" {label} ", style))
            parts.append((" ", ""))
        content = Content.assemble(*parts)
        shown = (content.plain, tuple(content.spans))
        if shown != getattr(self, "_shown", None):
            self._shown = shown
            self.update(content)
