"""Tables, the database handle, migrations and the queries the engine, CLI and UI share."""
