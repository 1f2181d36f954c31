"""Serving on Ray Serve: the same Starlette app and engines in every replica, behind Ray's HTTP proxy.

- settings.py: what `realtime-tts serve-ray` and a Serve config file ask for, turned into
  Serve's deployment options (pure: no Ray import).
- proxy.py: an ASGI middleware that Ray's proxy runs (pure): a replica that goes away closes
  its sockets 1012, Ray's own refusals come in the protocol's shape.
- routing.py: the request router: the least loaded replica with room (imports Ray).
- replica.py: the deployment: builds the app in each replica, tags what it answers (imports Ray).
- app.py: the application builder (`serve run`, Serve config files) and `serve-ray` (imports Ray).

Ray lives in its own venv, .venv-ray (`scripts/setup ray`); nothing outside this package imports it.
"""
