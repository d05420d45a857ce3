"""The fake Hub as the OpenID provider of "Sign in with Hugging Face", for Space-mode tests.

Gradio's OAuth on a Space (authlib) reads OPENID_PROVIDER_URL/.well-known/openid-configuration, sends the
visitor to its authorization endpoint, and trades the code it gets back for a token. Here the visitor is
the fake Hub's user (or the account a test names with `login_hint`), and the token is that user's token, so what the app does with it (push, whoami)
happens on the fake Hub. The token response carries `userinfo` itself and no id_token (nothing to verify).
"""
from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlencode

from tests.fakehub_jobs import HubError

ROUTES = [
    ("GET", r"/\.well-known/openid-configuration", "oidc_config"),
    ("GET", r"/oauth/authorize", "oauth_authorize"),
    ("POST", r"/oauth/token", "oauth_token"),
]


class OAuthRoutes:
    def r_oidc_config(self):
        url = self.hub.url
        self.send_json({"issuer": url, "authorization_endpoint": f"{url}/oauth/authorize",
                        "token_endpoint": f"{url}/oauth/token", "userinfo_endpoint": f"{url}/oauth/userinfo",
                        "response_types_supported": ["code"], "scopes_supported": ["openid", "profile"],
                        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]})

    def r_oauth_authorize(self):
        """The visitor agrees at once: back to the app's callback with a one-time code and the app's state."""
        redirect = self.query.get("redirect_uri", [""])[0]
        if not redirect:
            raise HubError(400, "redirect_uri is required")
        code = uuid.uuid4().hex
        hint = self.query.get("login_hint", [""])[0]  # tests sign in as another account this way
        self.hub.oauth_codes[code] = hint if hint in self.hub.tokens.values() else self.hub.user
        sep = "&" if "?" in redirect else "?"
        self.send_response(302)
        self.send_header("Location", redirect + sep + urlencode({"code": code,
                                                                 "state": self.query.get("state", [""])[0]}))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def r_oauth_token(self):
        form = {k: v[0] for k, v in parse_qs(self.body().decode()).items()}
        user = self.hub.oauth_codes.pop(form.get("code", ""), None)
        if user is None:
            raise HubError(400, "invalid_grant")
        token = next(t for t, u in self.hub.tokens.items() if u == user)
        self.send_json({"access_token": token, "token_type": "bearer", "expires_in": 8 * 3600,
                        "expires_at": int(time.time()) + 8 * 3600, "scope": "openid profile",
                        "userinfo": {"sub": "u-" + user, "name": user.title(), "preferred_username": user,
                                     "profile": f"{self.hub.url}/{user}", "picture": "", "website": ""}})
