"""The file edges: event files of every format, backfill files, settings and trackwell.toml."""
