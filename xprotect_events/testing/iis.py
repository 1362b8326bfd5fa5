"""What IIS itself answers in front of the identity provider: the ``401`` of Windows
authentication, whose body is IIS's own error page (HTML), not the identity provider's JSON.

IIS sends it both before a handshake (401.2: no credentials yet) and after a failed one
(401.1: wrong password, unknown user); a remote client gets the same page for both, titled
"401 - Unauthorized: Access is denied due to invalid credentials." [IIS's error page]. The
``WWW-Authenticate`` schemes come in IIS's default provider order, ``Negotiate`` then
``NTLM``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from aiohttp import web

#: IIS's default Windows-authentication providers, in its order.
IIS_SCHEMES = ("Negotiate", "NTLM")

UNAUTHORIZED_TITLE = "401 - Unauthorized: Access is denied due to invalid credentials."
UNAUTHORIZED_TEXT = (
    "You do not have permission to view this directory or page using the credentials "
    "that you supplied."
)

_PAGE = f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>{UNAUTHORIZED_TITLE}</title>
</head>
<body>
<div id="header"><h1>Server Error</h1></div>
<div id="content">
 <div class="content-container"><fieldset>
  <h2>{UNAUTHORIZED_TITLE}</h2>
  <h3>{UNAUTHORIZED_TEXT}</h3>
 </fieldset></div>
</div>
</body>
</html>
"""


def unauthorized(
    schemes: Iterable[str] = IIS_SCHEMES, *, scheme: str | None = None, token: bytes | None = None
) -> web.Response:
    """IIS's ``401``: offering every scheme, or carrying ``token`` (a CHALLENGE) under
    ``scheme``."""
    response = web.Response(status=401, text=_PAGE, content_type="text/html", charset="utf-8")
    response.headers["Server"] = "Microsoft-IIS/10.0"
    if scheme is not None and token is not None:
        encoded = base64.b64encode(token).decode("ascii")
        response.headers.add("WWW-Authenticate", f"{scheme} {encoded}")
        return response
    for offered in schemes:
        response.headers.add("WWW-Authenticate", offered)
    return response
