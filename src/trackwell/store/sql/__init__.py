"""The SQL every backend shares, written once with `?` placeholders; backends bring connections and a Dialect."""
