"""The two kinds of page ``imtui serve`` answers with: the terminal page (textual-serve's
``textual.js`` draws the app there) and a plain page saying why a link opens nothing.

Every value put into a page is HTML-escaped; neither page loads anything from elsewhere, so
the policy the server sends (:data:`POLICY`) allows nothing from elsewhere.
"""

from __future__ import annotations

from html import escape

from imtui.domain.links import LinkRefused

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self'; img-src 'self' data:; connect-src 'self' {ws}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of every page; ``{ws}`` is the websocket origin."""

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

_STYLE = """
body { background: #0c181f; color: #e8eef2; margin: 0;
       font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 40rem; margin: 4rem auto; padding: 0 1.5rem; line-height: 1.5; }
code { background: #12232d; padding: 0.1rem 0.3rem; }
.textual-terminal { width: 100vw; height: 100vh; }
.closed { display: none; position: absolute; inset: 0; align-items: center;
          justify-content: center; background: #0c181fe0; z-index: 10; }
body.-closed .closed { display: flex; }
"""

FRESH_LINK = (
    "A fresh link comes with the next email about this alert. An engineer can also open it at "
    "a shell where imtui runs: <code>imtui open alert/ID</code>, with the alert's number from "
    "the email."
)


def refused_page(reason: LinkRefused) -> str:
    return _page(
        "imtui: link not opened",
        f"<main><h1>No page opened</h1><p>{escape(reason.value)}</p><p>{FRESH_LINK}</p></main>",
    )


def terminal_page(*, alert_id: int, static_url: str, own_url: str, websocket_url: str) -> str:
    static = escape(static_url.rstrip("/"), quote=True)
    own = escape(own_url.rstrip("/"), quote=True)
    return _page(
        f"imtui: alert {alert_id}",
        '<div class="closed"><main><p>This session has ended. Reload the page to start '
        "again while your session lasts (it ends after a while without typing).</p></main>"
        "</div>"
        f'<div id="terminal" class="textual-terminal" data-session-websocket-url='
        f'"{escape(websocket_url, quote=True)}" data-font-size="16"></div>',
        head=(
            f'<link rel="stylesheet" href="{static}/css/xterm.css">'
            f'<script src="{static}/js/textual.js"></script>'
            f'<script src="{own}/focus.js" defer></script>'
        ),
    )


def _page(title: str, body: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style>{head}</head>"
        f"<body>{body}</body></html>"
    )
