"""The gateway: the pipeline behind Segment- and Customer.io-compatible HTTP APIs.

`trackwell.server.app.create_app(GatewaySettings(...))` builds the ASGI app; `trackwell serve`
runs it on uvicorn. The package is imported only by the commands that serve.
"""
