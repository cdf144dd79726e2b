"""The vocabulary every stage shares: messages, ids, operations, versions; standard library and orjson only."""
