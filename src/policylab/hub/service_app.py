"""What every PolicyLab hub service shares: the hub-OAuth tornado application and running it where the hub says.

A managed JupyterHub service gets its URL, prefix and API token from the hub's environment; both
services (reports, check before submitting) are a few handlers behind hub OAuth on that URL.
"""
from __future__ import annotations

import os


def oauth_app(prefix: str, handlers: list[tuple]):
    """A tornado application: hub OAuth's callback at ``<prefix>oauth_callback``, then ``handlers``
    as (path below ``prefix``, handler class)."""
    from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
    from jupyterhub.utils import url_path_join
    from tornado import web

    settings = {"hub_auth": HubOAuth(api_token=os.environ["JUPYTERHUB_API_TOKEN"], cache_max_age=60),
                "cookie_secret": os.urandom(32)}
    return web.Application([(url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
                            *[(url_path_join(prefix, path), handler) for path, handler in handlers]], **settings)


def serve(app, **listen) -> None:
    """Listen on $JUPYTERHUB_SERVICE_URL until the hub stops the service (SIGINT)."""
    from urllib.parse import urlparse

    from tornado.ioloop import IOLoop

    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(url.port, url.hostname, **listen)
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:
        pass
