"""Sign in to an app running in Space mode the way a browser does, against the fake Hub as OpenID provider.

The app must run with OPENID_PROVIDER_URL set to the fake Hub's URL (tests/fakehub_oauth.py). Gradio keeps
the sign-in in a `Secure` session cookie, which an HTTP client on 127.0.0.1 would not send back, so the
cookie is carried by hand; pass the returned headers to gradio_client.Client(headers=...).
"""
from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import httpx


def sign_in(app_url: str, timeout: float = 30.0, user: str | None = None) -> dict[str, str]:
    """Follow /login/huggingface → the provider → /login/callback; returns the signed-in visitor's headers. `user`
    signs in as that account of the fake Hub (FakeHub.add_user) instead of its default user."""
    app = urlsplit(app_url)
    url, cookies = urljoin(app_url, "login/huggingface"), {}
    with httpx.Client(timeout=timeout) as http:
        for _ in range(8):
            same_site = urlsplit(url).netloc == app.netloc
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies and same_site else {}
            r = http.get(url, headers=headers)
            if same_site:
                for raw in r.headers.get_list("set-cookie"):
                    name, _, rest = raw.partition("=")
                    cookies[name.strip()] = rest.split(";", 1)[0]
            if r.status_code not in (301, 302, 303, 307):
                raise AssertionError(f"sign-in stopped at {url}: HTTP {r.status_code} {r.text[:300]}")
            url = urljoin(url, r.headers["location"])
            if user and "/oauth/authorize" in url and "login_hint=" not in url:
                url += ("&" if "?" in url else "?") + f"login_hint={user}"
            if urlsplit(url).netloc == app.netloc and not urlsplit(url).path.startswith("/login"):
                break  # back on the app, signed in
    if "session" not in cookies:
        raise AssertionError("sign-in set no session cookie")
    return {"Cookie": f"session={cookies['session']}"}
