"""The server-side SDK: the client, its outbox and spill file, serialisation, the pytest plugin."""
